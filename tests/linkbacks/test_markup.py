"""Reading a stranger's HTML in linear time (commentsvc.linkbacks.markup)."""

from commentsvc.linkbacks.markup import tidy_html


def test_a_tidy_copy_closes_what_was_left_open():
    tidy = tidy_html("<div><p>one<p>two <a href='https://example.org/'>link</a>")
    assert tidy.html.count("<p") == tidy.html.count("</p>") == 2
    assert tidy.html.count("<div") == tidy.html.count("</div>") == 1
    assert 'href="https://example.org/"' in tidy.html and not tidy.truncated


def test_nul_characters_and_stray_end_tags_do_not_break_the_copy():
    tidy = tidy_html("a\0b</span></div><b>bold")
    assert "\0" not in tidy.html and "\ufffd" in tidy.html
    assert tidy.html.count("<b>") == tidy.html.count("</b>") == 1


def test_a_hostile_depth_is_cut_and_said_so():
    tidy = tidy_html("<div>" * 100_000)
    assert tidy.truncated
    assert tidy.depth < 100_000
