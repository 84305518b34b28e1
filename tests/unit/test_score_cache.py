import hashlib

import pytest
from hypothesis import given, settings, strategies as st

from udfs.score_cache import ScoreCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def model(caption: str) -> tuple[float, float]:
    """A stand-in model, independent of the cache: two scores derived from the caption's bytes."""
    digest = hashlib.sha256(caption.encode()).digest()
    return digest[0] / 255, digest[1] / 255


def score_through(cache: ScoreCache, batch, version="1", fail=False):
    plan = cache.plan(batch)
    scores = None if fail else [model(c) for c in plan.captions]
    return plan, cache.complete(plan, scores, None if fail else [version] * len(plan.captions))


def test_a_batch_sends_each_distinct_item_once_and_the_next_batch_hits():
    cache = ScoreCache(max_items=100, ttl_s=60)
    plan, scores = score_through(cache, [("a", "x"), ("b", "y"), ("a", "x"), ("c", None)])
    assert plan.captions == ["x", "y"] and plan.hits == 1
    assert scores == [model("x"), model("y"), model("x"), None]
    plan, scores = score_through(cache, [("b", "y"), ("a", "x"), ("d", "z")])
    assert plan.captions == ["z"] and plan.hits == 2
    assert scores == [model("y"), model("x"), model("z")]
    assert (cache.stats.hits, cache.stats.misses, len(cache)) == (3, 3, 3)


def test_an_edited_caption_is_a_new_key():
    cache = ScoreCache(max_items=100, ttl_s=60)
    score_through(cache, [("a", "old text")])
    plan, scores = score_through(cache, [("a", "new text")])
    assert plan.captions == ["new text"] and scores == [model("new text")]


def test_the_least_recently_used_item_is_evicted_at_the_size_bound():
    cache = ScoreCache(max_items=2, ttl_s=60)
    score_through(cache, [("a", "x"), ("b", "y")])
    score_through(cache, [("a", "x")])  # a is now more recent than b
    score_through(cache, [("c", "z")])
    assert cache.stats.evictions == 1 and len(cache) == 2
    assert score_through(cache, [("a", "x")])[0].captions == []
    assert score_through(cache, [("b", "y")])[0].captions == ["y"]


def test_an_entry_older_than_the_ttl_is_scored_again():
    clock = Clock()
    cache = ScoreCache(max_items=10, ttl_s=30, timer=clock)
    score_through(cache, [("a", "x")])
    clock.now = 29.0
    assert score_through(cache, [("a", "x")])[0].captions == []
    clock.now = 31.0
    assert score_through(cache, [("a", "x")])[0].captions == ["x"]
    assert cache.stats.expirations == 1


def test_a_new_model_version_drops_every_entry():
    cache = ScoreCache(max_items=10, ttl_s=60)
    score_through(cache, [("a", "x"), ("b", "y")], version="1")
    score_through(cache, [("c", "z")], version="1")
    assert cache.stats.invalidations == 0 and len(cache) == 3
    score_through(cache, [("d", "w")], version="2")
    assert cache.stats.invalidations == 1 and len(cache) == 1 and cache.model_version == "2"
    assert score_through(cache, [("a", "x")], version="2")[0].captions == ["x"]


def test_each_score_carries_the_version_that_produced_it_across_a_reload():
    """A batch after a reload mixes hits scored by the old model with misses scored by the new one: each
    impression names its own; a response that spans the reload keeps only the newest version's scores."""
    cache = ScoreCache(max_items=10, ttl_s=60)
    score_through(cache, [("a", "x")], version="1")
    plan, _ = score_through(cache, [("a", "x"), ("b", "y"), ("c", None)], version="2")
    assert plan.versions == ["1", "2", None]
    assert cache.model_version == "2" and len(cache) == 1  # x, scored by 1, was dropped
    plan = cache.plan([("d", "z"), ("e", "w")])
    cache.complete(plan, [model("z"), model("w")], ["2", "3"])
    assert plan.versions == ["2", "3"] and cache.model_version == "3"
    assert score_through(cache, [("d", "z"), ("e", "w")], version="3")[0].captions == ["z"]


def test_a_failed_call_leaves_its_items_unscored_and_uncached():
    cache = ScoreCache(max_items=10, ttl_s=60)
    score_through(cache, [("a", "x")])
    plan, scores = score_through(cache, [("a", "x"), ("b", "y")], fail=True)
    assert scores == [model("x"), None]
    assert len(cache) == 1 and cache.model_version == "1"
    assert score_through(cache, [("b", "y")])[0].captions == ["y"]


def test_scores_must_match_the_captions_sent():
    cache = ScoreCache(max_items=10, ttl_s=60)
    plan = cache.plan([("a", "x"), ("b", "y")])
    with pytest.raises(ValueError, match="1 scores for 2 captions"):
        cache.complete(plan, [model("x")], ["1"])


@pytest.mark.parametrize("items, ttl", [(0, 60), (10, 0)])
def test_a_cache_without_room_or_lifetime_is_refused(items, ttl):
    with pytest.raises(ValueError):
        ScoreCache(max_items=items, ttl_s=ttl)


ITEMS = st.tuples(st.sampled_from("abcdefgh"), st.one_of(st.none(), st.sampled_from(["x", "y", "z", "w"])))


@settings(max_examples=200, deadline=None)
@given(batches=st.lists(st.lists(ITEMS, max_size=12), max_size=8), size=st.integers(1, 5))
def test_the_cache_is_transparent_whatever_the_traffic(batches, size):
    """Whatever the batches and the bound, every impression gets what the model says of its caption, and
    every captioned impression is counted once as a hit or a miss."""
    cache = ScoreCache(max_items=size, ttl_s=60)
    captioned = 0
    for batch in batches:
        _, scores = score_through(cache, batch)
        assert scores == [None if caption is None else model(caption) for _, caption in batch]
        captioned += sum(caption is not None for _, caption in batch)
        assert len(cache) <= size
    assert cache.stats.hits + cache.stats.misses == captioned
