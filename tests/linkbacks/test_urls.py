"""The one spelling of a URL that linkback identity compares (commentsvc.linkbacks.urls)."""

import pytest

from commentsvc.linkbacks.urls import host_of
from commentsvc.linkbacks.urls import normalise_url
from commentsvc.linkbacks.urls import same_url


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("HTTPS://Example.ORG", "https://example.org/"),
        ("https://example.org:443/a?", "https://example.org/a"),
        ("http://example.org:80/a#part", "http://example.org/a"),
        ("http://user:pw@example.org:8080/a?b=1", "http://example.org:8080/a?b=1"),
        ("https://example.org./a", "https://example.org/a"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ("http://[::1]:8000/", "http://[::1]:8000/"),
    ],
)
def test_urls_are_spelled_one_way(url, normal):
    assert normalise_url(url) == normal


@pytest.mark.parametrize("url", ["/just/a/path", "https://", "https://a..b/", "http://" + "x" * 64])
def test_a_url_without_a_valid_host_is_refused(url):
    with pytest.raises(ValueError):
        normalise_url(url)


def test_same_url_and_host_of_compare_the_normal_spelling():
    assert same_url("https://EXAMPLE.org:443/p#c", "https://example.org/p")
    assert not same_url("https://example.org/p", "https://example.org/q")
    assert not same_url("nonsense", "nonsense")  # invalid URLs never name the same page
    assert host_of("https://Example.org:8443/x") == "example.org:8443"
    assert host_of("no host") == ""


TARGET = "https://blog.example.org/p/1"


@pytest.mark.parametrize(
    "spelling",
    [
        "https://blog.example.org/p/1",
        "HTTPS://BLOG.example.org/p/1",
        "https://blog.example.org/p/1#comments",
        "https://blog.example.org/p/1?",
        "https://blog.example.org:443/p/1",
        "https://blog.example.org./p/1",
        "https://user:pw@blog.example.org/p/1",
        " https://blog.example.org/p/1 ",
    ],
)
def test_one_spelling_of_each_url(spelling):
    assert normalise_url(spelling) == TARGET


def test_idna_hosts_are_stored_in_ascii():
    assert normalise_url("http://BÜCHER.example/a") == "http://xn--bcher-kva.example/a"
    assert normalise_url("http://xn--bcher-kva.example/a") == "http://xn--bcher-kva.example/a"
    assert normalise_url("http://example.org") == "http://example.org/"
    assert normalise_url("http://example.org:8080/a?b=1") == "http://example.org:8080/a?b=1"
    for bad in ("http:///nohost", "http://example.org:99999/", "http://xn--/"):
        with pytest.raises(ValueError):
            normalise_url(bad)
