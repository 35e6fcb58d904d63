"""Fixed-window rate limits (commentsvc.ratelimit): in the database, or Redis with a fallback."""

import pytest
from limits.storage import MemoryStorage

from commentsvc.ratelimit import Limiter


@pytest.fixture
def limiter(app):
    return app.extensions["limiter"]


def test_hits_past_the_limit_wait_for_the_window(limiter):
    assert [limiter.hit("2/minute", "post", "1.2.3.4") for _ in range(2)] == [0, 0]
    wait = limiter.hit("2/minute", "post", "1.2.3.4")
    assert 0 < wait <= 60
    assert limiter.count("2/minute", "post", "1.2.3.4") == 3  # the refused hit counts too
    assert 0 < limiter.wait("2/minute", "post", "1.2.3.4") <= 60
    assert limiter.hit("2/minute", "post", "5.6.7.8") == 0  # each key has its own window


def test_clearing_a_key_allows_it_again(limiter):
    for _ in range(3):
        limiter.hit("1/hour", "login", "ann")
    limiter.clear("1/hour", "login", "ann")
    assert limiter.wait("1/hour", "login", "ann") == 0
    assert limiter.hit("1/hour", "login", "ann") == 0


def test_long_or_odd_keys_are_stored(limiter):
    key = "x" * 5000 + "\u202e:/"
    assert limiter.hit("1/minute", key) == 0
    assert limiter.hit("1/minute", key) > 0


class Down(MemoryStorage):
    """A primary storage that does not answer, as Redis when it is down."""

    base_exceptions = ConnectionError

    def incr(self, *args, **kwargs):
        raise ConnectionError("down")

    def get(self, *args, **kwargs):
        raise ConnectionError("down")

    def get_expiry(self, *args, **kwargs):
        raise ConnectionError("down")


def test_a_failing_primary_hands_the_counting_to_the_fallback():
    limiter = Limiter(Down(), fallback=MemoryStorage())
    assert limiter.hit("1/minute", "k") == 0
    assert limiter.hit("1/minute", "k") > 0
