from dataclasses import replace

from udfs.policy import Policy
from udfs.policy_log import ActivePolicy, encode

CATEGORIES = ("spam", "hate")
START = Policy("v1", {"spam": 0.8, "hate": 0.7})


def record(offset: int, policy: Policy) -> tuple[int, bytes, bytes]:
    key, value = encode(replace(policy, created_at_ms=1000 + offset), CATEGORIES)
    return offset, key.encode(), value


def test_the_starting_policy_holds_until_the_topic_names_one():
    tracker = ActivePolicy(START, "policies", CATEGORIES)
    assert tracker.add([]) is None and tracker.policy == START
    changed = tracker.add([record(0, Policy("v2", {"spam": 0.5, "hate": 0.5}))])
    assert changed.version == "v2" and tracker.policy.thresholds == {"spam": 0.5, "hate": 0.5}


def test_shadow_invalid_and_tombstone_records_never_replace_the_active_policy():
    tracker = ActivePolicy(START, "policies", CATEGORIES)
    tracker.add([record(0, Policy("v2", {"spam": 0.5}))])
    changed = tracker.add([
        record(1, Policy("v3-shadow", {"spam": 0.1}, mode="shadow")),
        (2, b"x", b"not avro at all"),
        (3, b"v4", None),
    ])
    assert changed is None and tracker.policy.version == "v2"
    assert [p.error is None for p in tracker.publications] == [True, True, False, False]


def test_a_republished_older_version_is_active_again():
    tracker = ActivePolicy(START, "policies", CATEGORIES)
    tracker.add([record(0, START), record(1, Policy("v2", {"spam": 0.5}))])
    assert tracker.policy.version == "v2"
    assert tracker.add([record(2, replace(START, rollback_of="v2"))]).version == "v1"


def test_a_record_naming_an_unknown_category_is_refused_with_the_field():
    tracker = ActivePolicy(START, "policies", ("spam",))
    tracker.add([(0, b"k", encode(Policy("v9", {"spam": 0.5}), None)[1])])
    assert tracker.policy.version == "v9"
    _, value = encode(Policy("v10", {"nudity": 0.5}), None)
    assert tracker.add([(1, b"k", value)]) is None and tracker.policy.version == "v9"
    assert "nudity" in tracker.publications[-1].error
