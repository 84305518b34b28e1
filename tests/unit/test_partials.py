"""Per-batch partials: merged in any batching, they give exactly the per-impression aggregate."""
import random
from dataclasses import replace

from riskstream.core.rows import Impression
from udfs.health import WindowAccumulator
from udfs.partials import PARTIAL_FIELDS, Partial, aggregate
from udfs.policy import Policy
from udfs.policy_log import PolicyTimeline, encode

CATEGORIES = ("a", "b")
POLICY = Policy("v1", {"a": 0.5, "b": 0.7})
WINDOW = 60_000


def _impressions(n, seed):
    rng = random.Random(seed)
    rows = []
    for offset in range(n):
        rows.append((Impression(rng.randrange(3 * WINDOW), f"e{offset}", f"item-{rng.randrange(30)}",
                                f"c-{rng.randrange(6)}", rng.choice(["feed", "shorts"]), "br", "v1", "news", "x",
                                rng.randrange(3), offset),
                     None if rng.random() < 0.1 else [rng.random(), rng.random()]))
    return rows


def _version(impression) -> str | None:
    """The model that scored it: version 1 before a reload at offset 450, version 2 after."""
    return "1" if impression.source_offset < 450 else "2"


def _per_impression(rows):
    """The reference: one accumulator per window and slice, fed impression by impression."""
    windows = {}
    for impression, scores in rows:
        key = (impression.event_time - impression.event_time % WINDOW, impression.dimensions)
        windows.setdefault(key, WindowAccumulator()).add(
            impression.item_id, impression.creator_id, impression.source_partition, impression.source_offset,
            scores, CATEGORIES, POLICY, model_version=_version(impression))
    return windows


def _by_batches(rows, size):
    windows = {}
    for start in range(0, len(rows), size):
        batch = rows[start:start + size]
        for partial in aggregate([i for i, _ in batch], [s for _, s in batch], WINDOW, CATEGORIES, POLICY,
                                 [_version(i) for i, _ in batch]):
            windows.setdefault((partial.window_start, partial.dimensions), WindowAccumulator()) \
                .merge(partial.accumulator())
    return windows


def test_partials_merged_in_any_batching_equal_the_per_impression_aggregate():
    rows = _impressions(900, 3)
    want = {key: acc.metrics() for key, acc in _per_impression(rows).items()}
    for size in (1, 7, 128, 900):
        got = {key: acc.metrics() for key, acc in _by_batches(rows, size).items()}
        assert got.keys() == want.keys()
        for key in want:
            g, w = dict(got[key]), dict(want[key])
            assert abs(g.pop("harm") - w.pop("harm")) < 1e-9
            for sums in ("harm_by_category", "harm_by_viewer_cohort", "harm_by_creator_cohort"):
                gh, wh = g.pop(sums), w.pop(sums)
                assert gh.keys() == wh.keys() and all(abs(gh[c] - wh[c]) < 1e-9 for c in wh), sums
            assert g == w, (size, key)  # counts, sets, top items, offsets, the same sketch bytes, versions
    assert any(len(acc.metrics()["scored_by_model_version"]) == 2 for acc in _per_impression(rows).values())


def test_a_partial_lists_every_impression_it_holds_for_late_counting():
    rows = _impressions(200, 4)
    partials = aggregate([i for i, _ in rows], [s for _, s in rows], WINDOW, CATEGORIES, POLICY)
    held = sorted((p, o, e, t) for partial in partials for p, o, e, t in partial.late_records())
    assert held == sorted((i.source_partition, i.source_offset, i.event_id, i.event_time) for i, _ in rows)
    assert sum(p.impressions for p in partials) == 200


def test_the_row_type_follows_the_dataclass():
    assert [name for name, _ in PARTIAL_FIELDS] == list(Partial.__dataclass_fields__)
    assert dict(PARTIAL_FIELDS)["record_event_ids"] == "ARRAY<STRING>"


def test_a_batch_straddling_a_policy_change_gives_one_partial_per_policy_judged_by_it():
    strict = Policy("v2", {"a": 0.1, "b": 0.1})
    change_at = WINDOW + WINDOW // 2
    rows = _impressions(400, seed=11)
    timeline = PolicyTimeline(POLICY, "policies", CATEGORIES)
    timeline.add([(offset, b"k", encode(replace(p, created_at_ms=at), CATEGORIES)[1])
                  for offset, (p, at) in enumerate(((POLICY, 0), (strict, change_at)))])
    partials = aggregate([i for i, _ in rows], [s for _, s in rows], WINDOW, CATEGORIES, timeline)
    for version, policy, inside in (("v1", POLICY, lambda t: t < change_at), ("v2", strict, lambda t: t >= change_at)):
        mine = [p for p in partials if p.policy_version == version]
        judged = [(i, s) for i, s in rows if inside(i.event_time)]
        assert sum(p.impressions for p in mine) == len(judged)
        assert sum(p.unsafe for p in mine) == sum(
            1 for _, s in judged if s is not None and (s[0] >= policy.thresholds["a"] or s[1] >= policy.thresholds["b"]))
    assert {p.policy_version for p in partials if p.window_start == WINDOW} == {"v1", "v2"}


def test_a_shadow_policy_is_counted_beside_the_active_one_and_never_changes_its_judgement():
    shadow = Policy("v2-shadow", {"a": 0.2, "b": 0.9}, mode="shadow")
    rows = _impressions(500, seed=12)
    timeline = PolicyTimeline(POLICY, "policies", CATEGORIES)
    timeline.add([(0, b"k", encode(replace(POLICY, created_at_ms=0), CATEGORIES)[1]),
                  (1, b"s", encode(replace(shadow, created_at_ms=WINDOW), CATEGORIES)[1])])
    with_shadow = aggregate([i for i, _ in rows], [s for _, s in rows], WINDOW, CATEGORIES, timeline)
    without = aggregate([i for i, _ in rows], [s for _, s in rows], WINDOW, CATEGORIES, POLICY)
    assert sum(p.unsafe for p in with_shadow) == sum(p.unsafe for p in without)

    def judged(policy, scores):
        return scores[0] >= policy.thresholds["a"] or scores[1] >= policy.thresholds["b"]

    shadowed = [(i, s) for i, s in rows if s is not None and i.event_time >= WINDOW]
    assert sum(p.shadow_unsafe for p in with_shadow) == sum(judged(shadow, s) for _, s in shadowed)
    assert sum(p.shadow_to_unsafe for p in with_shadow) == sum(judged(shadow, s) and not judged(POLICY, s)
                                                               for _, s in shadowed)
    assert sum(p.shadow_to_safe for p in with_shadow) == sum(judged(POLICY, s) and not judged(shadow, s)
                                                             for _, s in shadowed)
    assert {p.shadow_version for p in with_shadow if p.window_start < WINDOW} == {""}
    merged = WindowAccumulator()
    for p in with_shadow:
        merged.merge(p.accumulator())
    tally = merged.shadows["v2-shadow"]
    assert (tally.scored, tally.to_unsafe + tally.to_safe) == (len(shadowed), sum(tally.flipped.values()))
