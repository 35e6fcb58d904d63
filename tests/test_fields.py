"""Validating the fields of requests and commands (commentsvc.fields): a 400 naming the field."""

import pytest

from commentsvc import fields
from commentsvc.errors import ValidationError


def refused(call, *args, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_text_is_cleaned_and_its_length_checked_as_sent():
    assert fields.text_field("  a\r\nb\x07 ", "text", max_length=10, multiline=True) == "a\nb"
    assert fields.text_field(None, "author", max_length=5) == ""
    error = refused(fields.text_field, "x" * 11, "text", max_length=10)
    assert (error.field, error.code) == ("text", "too_long")
    assert refused(fields.text_field, "  ", "text", max_length=10, required=True).code == "empty"
    assert refused(fields.text_field, 7, "author", max_length=10).field == "author"
    assert refused(fields.text_field, "a\x00b", "text", max_length=10).field == "text"
    assert refused(fields.text_field, "\ud800", "text", max_length=10).field == "text"


def test_urls_and_origins():
    assert fields.http_url("https://example.org/a", "website") == "https://example.org/a"
    assert fields.http_url("", "website") == ""
    for bad in ("javascript:alert(1)", "ftp://example.org/", "https://"):
        assert refused(fields.http_url, bad, "website").field == "website"
    assert fields.origin("https://Example.org:443") == "https://example.org"
    assert refused(fields.origin, "https://example.org/path").field == "origin"
    assert fields.origin_of("http://example.org:8080/x") == "http://example.org:8080"
    assert fields.normal_origin("not a url") is None
    assert fields.url_host("https://BÜCHER.example/") == "xn--bcher-kva.example"
    assert fields.normal_host("::1") == "::1"


def test_names_choices_and_numbers():
    assert fields.name_field("blog-1") == "blog-1"
    assert refused(fields.name_field, "Not a name!", "site").field == "site"
    assert fields.is_name("blog") and not fields.is_name("")
    assert fields.has_controls("a\x1bb") and not fields.has_controls("ab")
    assert fields.is_printable_ascii("abc", max_length=3)
    assert not fields.is_printable_ascii("abcd", max_length=3)
    assert fields.choice("all", "moderation", ("none", "all")) == "all"
    assert refused(fields.choice, "some", "moderation", ("none", "all")).field == "moderation"
    assert fields.integer(5, "limit", maximum=10) == 5
    for bad in (11, -1, "many", True, 1.5):
        assert refused(fields.integer, bad, "limit", maximum=10).field == "limit"
