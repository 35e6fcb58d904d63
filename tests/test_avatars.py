"""Identicons drawn here (commentsvc.avatars), so that no third party serves avatars."""

from commentsvc.avatars import identicon_svg
from commentsvc.avatars import valid_key


def test_only_the_hex_keys_the_api_gives_out_are_valid():
    assert valid_key("0123abcd") and valid_key("f" * 64)
    assert not valid_key("0123abc")  # too short
    assert not valid_key("f" * 65)
    assert not valid_key("0123ABCD") and not valid_key("../../etc") and not valid_key("")


def test_an_identicon_is_the_same_svg_for_a_key_and_another_for_another_key():
    svg = identicon_svg("0123abcd")
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and svg.endswith("</svg>")
    assert identicon_svg("0123abcd") == svg
    assert identicon_svg("fedcba98") != svg


def test_the_grid_is_mirrored_left_to_right():
    svg = identicon_svg("ffffffffffff")  # every bit set: every cell drawn, once
    assert svg.count('<rect x="') == 25


def test_an_image_icon_avatar_is_served(api, client):
    avatar = api.post(expect=201, email="a@example.org").get_json()["avatar"]
    with client.get(avatar) as response:
        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
    with client.get("/api/avatar/not-hex.svg") as response:
        assert response.status_code == 404


# --- sort and cursor ---------------------------------------------------------------------------
