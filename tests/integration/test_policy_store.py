"""Policies published on a real Kafka topic: history, the active policy, refusals and rollback."""
from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from confluent_kafka import Producer

from riskstream.core.errors import PolicyError
from riskstream.cli import policy_store
from riskstream.io import kafka_admin, topics
from udfs import policy as policies
from udfs.wire import Encoder, SchemaHistory, WireFormat
from riskstream.core import paths, schemas

CATEGORIES = ("toxicity", "hate", "sexual", "violence", "self_harm", "spam")


@pytest.fixture()
def kafka(services):
    kafka = replace(services.kafka, policies_topic=f"policies-test-{uuid.uuid4().hex[:8]}")
    kafka_admin.ensure_topics(kafka.bootstrap_servers, topics.specs(kafka))
    return kafka


def _force(kafka, key: bytes, value: bytes | None) -> None:
    """What another writer could put on the topic, bypassing `publish`."""
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    producer.produce(kafka.policies_topic, key=key, value=value, partition=0)
    producer.flush(10)


def test_publish_history_active_refusals_and_rollback(kafka):
    first = policies.load(paths.REPO_ROOT / "policies" / "default.toml", CATEGORIES)
    second = replace(first, version="v2", thresholds={**first.thresholds, "spam": 0.3})
    assert policy_store.history(kafka) == []
    assert policy_store.active([]) is None

    policy_store.publish(kafka, first, "ana", "initial version", CATEGORIES)
    published = policy_store.publish(kafka, second, "ben", "spam wave", CATEGORIES)
    assert published.offset == 1
    found = policy_store.history(kafka, CATEGORIES)
    assert [(p.policy.version, p.policy.author, p.policy.reason) for p in found] == \
        [(first.version, "ana", "initial version"), ("v2", "ben", "spam wave")]
    assert policy_store.active(found).rules() == second.rules()

    # The same version with other rules is refused; so is a publication without a reason.
    with pytest.raises(PolicyError, match="already published") as error:
        policy_store.publish(kafka, replace(second, thresholds={"spam": 0.9}), "ben", "oops", CATEGORIES)
    assert error.value.field == "version"
    with pytest.raises(PolicyError) as error:
        policy_store.publish(kafka, replace(second, version="v3"), "ben", " ", CATEGORIES)
    assert error.value.field == "reason"

    # Forced onto the topic: garbage, a schema-valid record that breaks the rules, a tombstone, a shadow policy.
    history = SchemaHistory.from_folder(schemas.POLICY_HISTORY)
    encoder = Encoder(history.latest, WireFormat.SINGLE_OBJECT)
    _force(kafka, b"junk", b"not avro at all")
    _force(kafka, b"v9@1", encoder.encode(policies.to_record(replace(second, version="v9", thresholds={"spam": 2.0}))))
    _force(kafka, b"v2@1", None)
    policy_store.publish(kafka, replace(second, version="v4-shadow", mode="shadow"), "cy", "try it", CATEGORIES)
    found = policy_store.history(kafka, CATEGORIES)
    invalid = {p.key: p.error for p in found if p.policy is None}
    assert set(invalid) == {"junk", "v9@1", "v2@1"}
    assert "field thresholds.spam" in invalid["v9@1"] and invalid["v2@1"] == "tombstone"
    assert policy_store.active(found).version == "v2"  # neither the bad records nor the shadow policy

    rolled = policy_store.rollback(kafka, first.version, "dee", "v2 over-blocks", CATEGORIES)
    assert rolled.policy.rollback_of == "v2"
    found = policy_store.history(kafka, CATEGORIES)
    assert policy_store.active(found).rules() == first.rules()
    assert found[-1].policy.reason == "v2 over-blocks" and len(found) == 7
    with pytest.raises(PolicyError, match="no valid publication"):
        policy_store.rollback(kafka, "v9", "dee", "bad target", CATEGORIES)


def test_the_policy_commands_from_validate_to_rollback(stack, kafka, tmp_path, capsys):
    from riskstream.cli.main import main

    where = ["--state-dir", str(stack.state_dir), "--policies-topic", kafka.policies_topic]
    bad = tmp_path / "bad.toml"
    bad.write_text('version = "v1"\n[thresholds]\nspam = 0.5\nnudity = 0.5\n')
    assert main(["policy", "validate", str(bad), *where]) == 2
    assert f"{bad}:4: unknown category 'nudity'" in capsys.readouterr().err

    first, second = tmp_path / "v1.toml", tmp_path / "v2.toml"
    first.write_text('version = "v1"\n[thresholds]\nspam = 0.5\n')
    second.write_text('version = "v2"\n[thresholds]\nspam = 0.4\n[[kill_switches]]\nregion = "br"\n')
    assert main(["policy", "validate", str(first), *where]) == 0
    assert main(["policy", "publish", str(first), "--reason", "first", "--author", "ana", *where]) == 0
    capsys.readouterr()
    assert main(["policy", "diff", str(second), *where]) == 0
    out = capsys.readouterr().out
    assert "active: v1" in out and "thresholds.spam: 0.5 -> 0.4" in out and "kill_switches: (none) -> region=br" in out
    assert main(["policy", "publish", str(second), "--reason", "tighter", *where]) == 0
    assert main(["policy", "rollback", "v1", "--reason", "too tight", "--author", "ben", *where]) == 0
    capsys.readouterr()
    assert main(["policy", "history", *where]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines[:3]] == ["v1", "v2", "v1"]
    assert "ben: too tight (rollback of v2)" in lines[2] and lines[-1] == "active: v1"
