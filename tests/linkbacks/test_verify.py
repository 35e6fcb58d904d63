"""Finding the link in a source page: exact, after decoding and resolution, with context."""

import re

import pytest

from commentsvc.linkbacks.fetch import Fetched
from commentsvc.linkbacks.verify import decode_html
from commentsvc.linkbacks.verify import find_link

TARGET = "https://blog.example.org/p/1"


def page(
    html: str, url: str = "https://other.example.org/posts/a", content_type: str = "text/html"
):
    return Fetched(url=url, status=200, headers={"content-type": content_type}, body=html.encode())


@pytest.mark.parametrize(
    "html",
    [
        '<a href="https://blog.example.org/p/1">x</a>',
        '<a href="https://BLOG.example.org/p/1#comments">x</a>',
        '<a href="https://blog.example.org:443/p/1">x</a>',
        '<a href="/p/1">x</a>',  # relative to a page on the same host, below
        '<a href="&#104;ttps://blog.example.org/p/1">x</a>',
        '<a href="  https://blog.example.org/p/1  ">x</a>',
    ],
)
def test_links_that_count(html):
    url = (
        "https://blog.example.org/elsewhere" if 'href="/p/1"' in html else "https://o.example.org/"
    )
    assert find_link(page(html, url=url), TARGET) is not None


@pytest.mark.parametrize(
    "html",
    [
        '<a href="https://blog.example.org/p/10">x</a>',
        '<a href="https://blog.example.org/p/1/">x</a>',
        '<a href="https://blog.example.org/p/1?x=1">x</a>',
        '<a href="http://blog.example.org/p/1">x</a>',
        "<p>https://blog.example.org/p/1</p>",
        '<!-- <a href="https://blog.example.org/p/1">x</a> -->',
        '<p>&lt;a href="https://blog.example.org/p/1"&gt;x&lt;/a&gt;</p>',
        '<link rel="canonical" href="https://blog.example.org/p/1">',
        '<img src="https://blog.example.org/p/1">',  # counts for Webmention only
        '<script>var a = "<a href=\\"https://blog.example.org/p/1\\">x</a>";</script>',
    ],
)
def test_links_that_do_not(html):
    assert find_link(page(html), TARGET) is None


def test_media_count_for_webmention():
    assert find_link(page('<img src="https://blog.example.org/p/1">'), TARGET, media=True)
    assert find_link(
        page('<video><source src="/p/1"></video>', url="https://blog.example.org/v"),
        TARGET,
        media=True,
    )


def test_base_href_resolves_relative_links():
    html = '<base href="https://blog.example.org/p/"><a href="1">x</a>'
    assert find_link(page(html), TARGET) is not None


def test_non_html_never_verifies():
    assert (
        find_link(page(f'<a href="{TARGET}">x</a>', content_type="application/json"), TARGET)
        is None
    )


def test_the_excerpt_is_about_100_characters_each_side():
    before, after = "b" * 300, "a" * 300
    found = find_link(page(f'<p>{before} <a href="{TARGET}">the link</a> {after}</p>'), TARGET)
    assert found.excerpt == f"{'b' * 100} the link {'a' * 100}"


def test_the_link_in_the_post_wins_over_navigation():
    html = (
        f'<nav><a href="{TARGET}">Home</a></nav><article><p>As <a href="{TARGET}">this post</a> '
        "argues well.</p></article>"
    )
    assert find_link(page(html), TARGET).excerpt == "As this post argues well."


def test_the_title_falls_back_to_the_host():
    assert find_link(page(f'<a href="{TARGET}">x</a>'), TARGET).title == "other.example.org"


@pytest.mark.parametrize(
    ("body", "header", "expected"),
    [
        ("caf\u00e9".encode("utf-8-sig"), "text/html; charset=latin-1", "caf\u00e9"),
        ("caf\u00e9".encode("latin-1"), "text/html; charset=ISO-8859-1", "caf\u00e9"),
        ("\u201cq\u201d".encode("cp1252"), "text/html; charset=iso-8859-1", "\u201cq\u201d"),
        (
            b'<meta charset="windows-1252">' + "\u2013".encode("cp1252"),
            "text/html",
            '<meta charset="windows-1252">\u2013',
        ),
        ("caf\u00e9".encode(), "text/html", "caf\u00e9"),
        ("caf\u00e9".encode("cp1252"), "text/html", "caf\u00e9"),
        (b"x", "text/html; charset=no-such-charset", "x"),
    ],
)
def test_charset_order_bom_header_meta_fallback(body, header, expected):
    assert decode_html(body, header) == expected


# --- hostile pages: linear, bounded work ----------------------------------------------------------

MEGABYTE = 1024 * 1024


def _hostile_pages():
    """Pages of about 1 MB, each built against one way of making a parser slow."""
    link = f'<a href="{TARGET}">x</a>'
    return {
        "unclosed links": "<a href=/p/0>y" * (MEGABYTE // 14) + link,
        "deep nesting": "<div><span>" * (MEGABYTE // 11) + link,
        "many distinct attributes": "<a "
        + "".join(f"a{i}=1 " for i in range(MEGABYTE // 9))
        + f' href="{TARGET}">x</a>',
        "unclosed end tags": "</" * (MEGABYTE // 2),
        "unclosed comments": "<!--" * (MEGABYTE // 4),
        "unclosed quotes": "<a b='" * (MEGABYTE // 6),
        "lone brackets": "<" * MEGABYTE,
        "formatting soup": "<b><i><u><s><font>" * (MEGABYTE // 19) + link,
        "microformats": '<div class="h-entry"><a class="u-like-of p-author h-card" href=/x>y</a>'
        * (MEGABYTE // 70),
    }


@pytest.mark.parametrize("name", list(_hostile_pages()))
def test_hostile_pages_are_read_into_a_bounded_tidy_copy(name):
    from commentsvc.linkbacks import markup

    tidy = markup.tidy_html(_hostile_pages()[name])
    assert tidy.elements <= markup.MAX_ELEMENTS
    assert tidy.depth <= markup.MAX_DEPTH
    assert "<!--" not in tidy.html
    # Every tag of the copy has at most MAX_ATTRIBUTES attributes, and no <a> is inside an <a>.
    depth_of_a = 0
    for tag in re.finditer(r"<(/?)([a-z0-9-]+)([^>]*)>", tidy.html):
        assert tag.group(3).count('="') <= markup.MAX_ATTRIBUTES
        if tag.group(2) == "a":
            depth_of_a += -1 if tag.group(1) else 1
            assert depth_of_a in (0, 1)


@pytest.mark.parametrize(
    ("html", "found"),
    [
        # A new <a> closes the open one, as browsers do: the link still counts.
        (f'<p>Read <a href="/elsewhere">this and <a href="{TARGET}">that</a> now.</p>', True),
        (f'<a href="{TARGET}" href="/other">x</a>', True),  # the first of two attributes wins
        (f'<!-- unclosed comment <a href="{TARGET}">x</a>', False),
        (f'<script>"</scr" + "ipt>"; <a href="{TARGET}">x</a>', False),
        (f'<textarea><a href="{TARGET}">x</a></textarea>', False),
        (f'<a\nhref\n=\n"{TARGET}"\n>x</a>', True),
        (f"<A HREF='{TARGET}'>x</A>", True),
    ],
)
def test_the_tidy_copy_reads_links_as_browsers_do(html, found):
    assert (find_link(page(html), TARGET) is not None) is found


# --- charsets and Content-Length that are not what they say ---------------------------------------


@pytest.mark.parametrize("label", ["rot13", "base64", "zlib", "hex", "uu", "iso-2022-kr", "x-\0"])
def test_charsets_that_name_no_text_encoding_fall_back(label):
    body = f'<a href="{TARGET}">caf\u00e9</a>'.encode()
    assert decode_html(body, f"text/html; charset={label}") == body.decode()
    with_meta = f'<meta charset="{label}">'.encode() + body
    assert "caf\u00e9" in decode_html(with_meta, "text/html")
    fetched = Fetched(
        url="https://o.example.org/", status=200, headers={"content-type": "text/html"}, body=body
    )
    for headers in ({"content-type": f"text/html; charset={label}"},):
        assert find_link(Fetched(**{**fetched.__dict__, "headers": headers}), TARGET)


# --- what is stored: capped, cut between words, one spelling of each URL ---------------------------


def test_excerpts_are_cut_between_words_at_both_ends_without_markers():
    before = "abcdefghi " * 30 + "tail"  # 100 characters back from the link fall mid-word
    after = "xyzzy " * 40  # and so do 100 characters on
    found = find_link(page(f'<p>{before} <a href="{TARGET}">the link</a> {after}</p>'), TARGET)
    words = found.excerpt.split()
    assert set(words) == {"abcdefghi", "tail", "the", "link", "xyzzy"}
    assert "the link" in found.excerpt and "[" not in found.excerpt
    assert len(found.excerpt) <= 2 * 100 + len(" the link ")


def test_titles_authors_and_excerpts_are_capped():
    from commentsvc.linkbacks import verify

    long_name = "Name " * 200
    html = (
        f"<title>{'Title ' * 500}</title><div class='h-entry'><p class='p-author h-card'>"
        f"<a class='u-url p-name' href='https://a.example.org/{'x' * 3000}'>{long_name}</a></p>"
        f"<p class='e-content'>{'w' * 5000} <a href='{TARGET}'>{'link ' * 500}</a></p></div>"
    )
    found = find_link(page(html), TARGET)
    assert len(found.title) <= verify.MAX_TITLE
    assert len(found.author) <= verify.MAX_AUTHOR and found.author.startswith("Name")
    assert len(found.excerpt) <= verify.MAX_EXCERPT
    assert found.author_url == ""  # longer than any URL stored


@pytest.mark.parametrize(
    "text",
    ["[…] quoted words […]", "[...] quoted words [...]", "… quoted words …", "quoted words"],
)
def test_stored_excerpts_carry_no_markers_of_their_own(text):
    from commentsvc.linkbacks.verify import clip_excerpt

    assert clip_excerpt(text) == "quoted words"
