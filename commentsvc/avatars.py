"""Identicons: a small symmetric SVG drawn from a key, so no third party serves avatars."""

from __future__ import annotations

import re

_KEY = re.compile(r"^[0-9a-f]{8,64}$")
CELLS = 5
SIZE = 10


def valid_key(key: str) -> bool:
    """Return True for a key the API gives out (hex)."""
    return bool(_KEY.match(key))


def identicon_svg(key: str) -> str:
    """Return an SVG identicon for a hex key: a 5x5 grid mirrored left to right."""
    bits = int(key, 16)
    hue = bits % 360
    colour = f"hsl({hue} 55% 45%)"
    rects = []
    half = (CELLS + 1) // 2
    for row in range(CELLS):
        for col in range(half):
            if (bits >> (row * half + col + 9)) & 1:
                for x in {col, CELLS - 1 - col}:
                    rects.append(_cell(x, row))
    size = CELLS * SIZE + 10
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        'width="48" height="48">'
        f'<rect width="{size}" height="{size}" fill="hsl({hue} 40% 92%)"/>'
        f'<g fill="{colour}">{"".join(rects)}</g></svg>'
    )


def _cell(col: int, row: int) -> str:
    return f'<rect x="{col * SIZE + 5}" y="{row * SIZE + 5}" width="{SIZE}" height="{SIZE}"/>'
