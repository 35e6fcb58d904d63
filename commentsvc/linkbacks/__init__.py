"""Linkbacks: receive and verify pingbacks and Webmentions, and send them for the site's pages."""
