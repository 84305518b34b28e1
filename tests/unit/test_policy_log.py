from dataclasses import replace

from udfs.policy import Policy
from udfs.policy_log import PolicyTimeline, encode

CATEGORIES = ("spam", "hate")
START = Policy("v0", {"spam": 0.9, "hate": 0.9})
V1 = Policy("v1", {"spam": 0.8, "hate": 0.7})
V2 = Policy("v2", {"spam": 0.5, "hate": 0.5})


def record(offset: int, policy: Policy, created_at_ms: int) -> tuple[int, bytes, bytes]:
    key, value = encode(replace(policy, created_at_ms=created_at_ms), CATEGORIES)
    return offset, key.encode(), value


def versions(timeline: PolicyTimeline, *times: int) -> list[str]:
    return [timeline.at(t).version for t in times]


def test_the_starting_policy_judges_everything_until_the_topic_names_one():
    timeline = PolicyTimeline(START, "policies", CATEGORIES)
    assert timeline.add([]) == [] and versions(timeline, 0, 10**13) == ["v0", "v0"]


def test_each_publication_judges_from_its_creation_on_and_the_first_one_the_past_too():
    timeline = PolicyTimeline(START, "policies", CATEGORIES)
    taken = timeline.add([record(0, V1, 1_000), record(1, V2, 5_000)])
    assert [p.version for p in taken] == ["v1", "v2"]
    assert versions(timeline, 0, 999, 1_000, 4_999, 5_000, 10**13) == ["v1", "v1", "v1", "v1", "v2", "v2"]
    assert timeline.latest.version == "v2"


def test_shadow_invalid_and_tombstone_records_judge_nothing():
    timeline = PolicyTimeline(START, "policies", CATEGORIES)
    timeline.add([record(0, V1, 1_000)])
    taken = timeline.add([
        record(1, replace(V2, version="v2-shadow", mode="shadow"), 2_000),
        (2, b"x", b"not avro at all"),
        (3, b"v3", None),
    ])
    assert [p.version for p in taken] == ["v2-shadow"] and versions(timeline, 3_000) == ["v1"]
    assert [p.error is None for p in timeline.publications] == [True, True, False, False]


def test_a_publisher_clock_behind_never_rewrites_the_past():
    timeline = PolicyTimeline(START, "policies", CATEGORIES)
    timeline.add([record(0, V1, 5_000), record(1, V2, 3_000)])  # published after v1, stamped before it
    assert versions(timeline, 4_000, 5_000, 6_000) == ["v1", "v2", "v2"]


def test_a_rollback_judges_from_its_own_time():
    timeline = PolicyTimeline(START, "policies", CATEGORIES)
    timeline.add([record(0, V1, 1_000), record(1, V2, 5_000), record(2, replace(V1, rollback_of="v2"), 9_000)])
    assert versions(timeline, 2_000, 6_000, 9_000) == ["v1", "v2", "v1"]


def test_a_record_naming_an_unknown_category_is_refused_with_the_field():
    timeline = PolicyTimeline(START, "policies", ("spam",))
    _, value = encode(Policy("v10", {"nudity": 0.5}), None)
    assert timeline.add([(0, b"k", value)]) == [] and timeline.latest.version == "v0"
    assert "nudity" in timeline.publications[-1].error


def test_a_shadow_is_evaluated_from_its_creation_until_a_newer_shadow_and_not_once_promoted():
    timeline = PolicyTimeline(START, "policies", CATEGORIES)
    shadow_a, shadow_b = replace(V2, version="a", mode="shadow"), replace(V2, version="b", mode="shadow")
    timeline.add([record(0, V1, 1_000), record(1, shadow_a, 2_000), record(2, shadow_b, 4_000),
                  record(3, replace(shadow_b, mode="enforce"), 6_000)])
    shadows = [getattr(timeline.shadow_at(t), "version", None) for t in (1_500, 2_000, 3_999, 4_000, 5_999, 6_000)]
    assert shadows == [None, "a", "a", "b", "b", None]
    assert versions(timeline, 5_999, 6_000) == ["v1", "b"] and not timeline.constant
