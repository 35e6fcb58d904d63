"""The allow-list every stored body passes (commentsvc.sanitize)."""

from commentsvc.sanitize import clean_html
from commentsvc.sanitize import clean_remote_html
from commentsvc.sanitize import count_links
from commentsvc.sanitize import escape
from commentsvc.sanitize import html_text
from commentsvc.sanitize import render_markdown
from tests.safety import unsafe_parts


def test_markdown_is_rendered_and_sanitised():
    html = render_markdown("**bold** and <script>alert(1)</script> https://example.org")
    assert "<strong>bold</strong>" in html
    assert "<script" not in html and unsafe_parts(html) == []
    assert 'href="https://example.org"' in html and "nofollow" in html  # linkified, marked


def test_clean_html_keeps_the_allow_list_and_drops_the_rest():
    html = clean_html('<p onclick="x()">hi <a href="javascript:alert(1)">x</a><img src=x></p>')
    assert unsafe_parts(html) == [] and "onclick" not in html and "<img" not in html
    assert "hi" in html


def test_remote_html_shows_emoji_as_their_alt_and_hides_scripts():
    html = clean_remote_html('<p>Hi <img alt=":wave:" src="x"><script>bad()</script></p>')
    assert ":wave:" in html and "bad()" not in html and "<img" not in html


def test_text_escaping_and_link_counting():
    assert escape('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"
    assert "two" in html_text("<p>one <em>two</em></p>")
    assert count_links(render_markdown("https://a.example.org and <https://b.example.org>")) == 2
