import json

import pytest

from riskstream.core import paths
from riskstream.core.errors import PolicyError
from udfs import policy

CATEGORIES = ("toxicity", "hate", "sexual", "violence", "self_harm", "spam")


def test_the_shipped_policy_covers_every_category_of_the_default_model():
    loaded = policy.load(paths.REPO_ROOT / "policies" / "default.toml", CATEGORIES)
    assert set(loaded.thresholds) == set(CATEGORIES)
    assert loaded.version


@pytest.mark.parametrize("text, line, message", [
    ('version = "v"\n[thresholds]\nspam = 2\n', 3, "must be a number in [0, 1]"),
    ('version = "v"\n[thresholds]\nspam = true\n', 3, "must be a number in [0, 1]"),
    ('version = "v"\n[thresholds]\nspam = 0.5\nnudity = 0.5\n', 4, "unknown category 'nudity'"),
    ('version = "v"\n[thresholds\nspam = 0.5\n', 2, "not valid TOML"),
    ('version = ""\n[thresholds]\nspam = 0.5\n', 1, "version must be a non-empty string"),
    ('version = "v"\nowner = "x"\n[thresholds]\nspam = 0.5\n', 2, "unknown key 'owner'"),
    ('version = "v"\n', 1, "[thresholds] table"),
])
def test_a_bad_policy_is_rejected_with_the_line_at_fault(text, line, message):
    with pytest.raises(PolicyError) as error:
        policy.parse(text, "p.toml", CATEGORIES)
    assert error.value.line == line
    assert str(error.value).startswith(f"p.toml:{line}: ")
    assert message in str(error.value)


def test_unsafe_categories_use_each_threshold_and_skip_unjudged_ones():
    p = policy.Policy("v", {"spam": 0.8, "hate": 0.3})
    assert p.unsafe_categories(("spam", "hate", "sexual"), [0.8, 0.29, 0.99]) == ["spam"]


def test_a_policy_survives_the_avro_record_of_the_policies_topic():
    from udfs.wire import AvroDecoder, Encoder, SchemaHistory, WireFormat
    from riskstream.core import schemas

    history = SchemaHistory.from_folder(schemas.POLICY_HISTORY)
    original = policy.Policy("v7", {"spam": 0.5, "hate": 0.4}, mode="shadow", block_thresholds={"spam": 0.9},
                             kill_switches=(policy.KillSwitch(surface="shorts", region="br"),), author="ana",
                             reason="incident 42", created_at_ms=1_767_225_600_000, rollback_of="v6")
    encoded = Encoder(history.latest, WireFormat.SINGLE_OBJECT).encode(policy.to_record(original))
    decoded = AvroDecoder(history.latest, history).decode(encoded)
    assert policy.from_record(decoded, "topic", CATEGORIES) == original


@pytest.mark.parametrize("change, field, message", [
    ({"thresholds": {"spam": 2.0}}, "thresholds.spam", "must be a number in [0, 1]"),
    ({"thresholds": {}}, "thresholds", "at least one category"),
    ({"block_thresholds": {"spam": 0.2}}, "block_thresholds.spam", "below its unsafe threshold"),
    ({"block_thresholds": {"nudity": 0.9}}, "block_thresholds.nudity", "unknown category"),
    ({"kill_switches": [{"surface": None, "region": None, "category": None}]}, "kill_switches[0]",
     "must name a surface"),
    ({"mode": "maybe"}, "mode", "mode must be one of"),
    ({"version": " "}, "version", "non-empty"),
])
def test_a_bad_policy_record_is_rejected_with_the_field_at_fault(change, field, message):
    record = {**policy.to_record(policy.Policy("v", {"spam": 0.5})), **change}
    with pytest.raises(PolicyError) as error:
        policy.from_record(record, "policies offset 3", CATEGORIES)
    assert error.value.field == field
    assert str(error.value).startswith(f"policies offset 3: field {field}: ")
    assert message in str(error.value)


def test_a_policy_file_holds_block_thresholds_kill_switches_and_a_mode():
    loaded = policy.parse('version = "v2"\nmode = "shadow"\n[thresholds]\nspam = 0.5\n[block_thresholds]\n'
                          'spam = 0.9\n[[kill_switches]]\nsurface = "shorts"\nregion = "br"\n', "p.toml", CATEGORIES)
    assert (loaded.mode, loaded.block_thresholds, loaded.kill_switches) == \
        ("shadow", {"spam": 0.9}, (policy.KillSwitch("shorts", "br", None),))
    with pytest.raises(PolicyError) as error:
        policy.parse('version = "v"\n[thresholds]\nspam = 0.5\n[[kill_switches]]\ncolour = "red"\n', "p.toml")
    assert error.value.line == 4 and "kill switch holds only" in str(error.value)


def test_diff_lists_each_changed_threshold_and_kill_switch():
    old = policy.Policy("v1", {"spam": 0.5, "hate": 0.4}, kill_switches=(policy.KillSwitch(region="br"),))
    new = policy.Policy("v2", {"spam": 0.6, "toxicity": 0.3}, block_thresholds={"spam": 0.9},
                        kill_switches=(policy.KillSwitch(surface="feed"),))
    assert [str(c) for c in policy.diff(old, new)] == [
        "version: v1 -> v2", "thresholds.hate: 0.4 -> (none)", "thresholds.spam: 0.5 -> 0.6",
        "thresholds.toxicity: (none) -> 0.3", "block_thresholds.spam: (none) -> 0.9",
        "kill_switches: region=br -> (none)", "kill_switches: (none) -> surface=feed"]
    assert policy.diff(old, old) == []


def test_breaker_parameters_come_from_the_policy_and_default_when_absent():
    text = 'version = "v"\n[thresholds]\nspam = 0.5\n[breaker]\ntrip_rate = 0.3\nclose_rate = 0.1\nmin_sample = 80\n'
    parsed = policy.parse(text, "p.toml", CATEGORIES)
    assert (parsed.breaker.trip_rate, parsed.breaker.close_rate, parsed.breaker.min_sample) == (0.3, 0.1, 80)
    assert parsed.breaker.window_minutes == 3  # a default
    assert policy.parse('version = "v"\n[thresholds]\nspam = 0.5\n').breaker == policy.BreakerParams()
    changes = [str(c) for c in policy.diff(policy.parse('version = "v"\n[thresholds]\nspam = 0.5\n'), parsed)]
    assert "breaker.trip_rate: 0.2 -> 0.3" in changes


@pytest.mark.parametrize("table, line, message", [
    ("[breaker]\ntrip_rte = 0.2\n", 5, "unknown breaker parameter 'trip_rte'"),
    ("[breaker]\nmin_sample = 2.5\n", 5, "must be an integer"),
    ("[breaker]\nclose_rate = 0.3\n", 5, "close_rate < trip_rate"),
])
def test_a_bad_breaker_parameter_is_refused_at_its_line(table, line, message):
    with pytest.raises(PolicyError) as error:
        policy.parse('version = "v"\n[thresholds]\nspam = 0.5\n' + table, "p.toml", CATEGORIES)
    assert error.value.line == line and message in str(error.value)


def test_a_record_written_before_breakers_existed_still_reads_with_the_defaults():
    from fastavro import parse_schema

    from riskstream.core import schemas
    from udfs.policy_log import codec
    from udfs.wire import Encoder, WireFormat

    old = Encoder(parse_schema(json.loads((schemas.POLICY_HISTORY / "v1.avsc").read_text())), WireFormat.SINGLE_OBJECT)
    record = {k: v for k, v in policy.to_record(policy.Policy("old", {"spam": 0.5})).items() if k != "breaker"}
    decoded = codec()[1].decode(old.encode(record))
    assert policy.from_record(decoded, "topic").breaker == policy.BreakerParams()


def test_breaker_overrides_match_slices_and_are_checked_with_the_line_at_fault():
    text = ('version = "v"\n[thresholds]\nspam = 0.5\n[[breaker_overrides]]\nsurface = "shorts"\nregion = "br"\n'
            'state = "open"\n[[breaker_overrides]]\nrecommender_model_version = "recsys-2026.11"\nstate = "closed"\n')
    parsed = policy.parse(text, "p.toml", CATEGORIES)
    assert parsed.breaker_override("shorts", "br", "recsys-2026.10") == "open"
    assert parsed.breaker_override("search", "us", "recsys-2026.11") == "closed"
    assert parsed.breaker_override("search", "us", "recsys-2026.10") is None
    assert policy.from_record(policy.to_record(parsed), "topic", CATEGORIES).breaker_overrides == parsed.breaker_overrides
    changes = [str(c) for c in policy.diff(policy.parse('version = "v"\n[thresholds]\nspam = 0.5\n'), parsed)]
    assert "breaker_overrides: (none) -> surface=shorts,region=br forced open" in changes
    for bad, message in (('state = "half_open"\nsurface = "shorts"\n', "state must be one of open, closed"),
                         ('state = "open"\n', "must name a surface, a region or a recommender model version"),
                         ('state = "open"\ncategory = "spam"\n', "holds only surface, region")):
        with pytest.raises(PolicyError, match=message) as error:
            policy.parse('version = "v"\n[thresholds]\nspam = 0.5\n[[breaker_overrides]]\n' + bad, "p.toml")
        assert error.value.line == 4
