"""Serialised answers kept once per key (commentsvc.answers): memory, then Redis."""

import gzip

from commentsvc.answers import Answers
from commentsvc.answers import MemoryCache


def test_the_memory_cache_forgets_the_least_recently_used_beyond_its_bound():
    cache = MemoryCache(max_bytes=40)
    cache.set("a", b"x" * 10)
    cache.set("b", b"y" * 10)
    cache.set("c", b"z" * 10)
    assert cache.get("a") == b"x" * 10  # a is now the most recent
    cache.set("d", b"w" * 10)
    cache.set("e", b"v" * 10)
    assert cache.get("b") is None and cache.get("a") is not None and cache.size <= 40
    cache.set("big", b"!" * 11)  # over a quarter of the bound: never kept
    assert cache.get("big") is None


def test_an_answer_is_built_once_and_gzipped_once():
    answers = Answers("test", max_bytes=1_000_000)
    built = []

    def build():
        built.append(1)
        return b"answer " * 100

    key = answers.key("thread", 1, {"sort": "new"})
    assert answers.key("thread", 1, {"sort": "new"}) == key != answers.key("thread", 2)
    assert answers.body(key, build) == answers.body(key, build) == b"answer " * 100
    assert built == [1]
    assert gzip.decompress(answers.gzipped(key, b"answer " * 100)) == b"answer " * 100
    assert answers.gzipped(answers.key("tiny"), b"{}") is None
