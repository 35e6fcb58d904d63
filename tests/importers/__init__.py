"""Tests of commentsvc.importers, one file per format."""
