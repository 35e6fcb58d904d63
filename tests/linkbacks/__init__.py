"""Tests of commentsvc.linkbacks, one file per module."""
