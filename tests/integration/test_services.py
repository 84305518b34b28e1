"""Each real service doing its job for riskstream: topics, scoring, schema migrations."""
from __future__ import annotations

import numpy as np
import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from riskstream.core import captions
from riskstream.io import clickhouse, kafka_admin, topics
from riskstream.core.errors import RiskstreamError, ServiceUnavailable
from riskstream.core.config import TritonSettings
from riskstream.io.scoring import SafetyScorer


def test_topics_are_created_with_explicit_partitions_and_configs(services):
    specs = topics.specs(services.kafka)
    kafka_admin.ensure_topics(services.kafka.bootstrap_servers, specs)
    kafka_admin.ensure_topics(services.kafka.bootstrap_servers, specs)  # idempotent
    offsets = kafka_admin.end_offsets(services.kafka.bootstrap_servers, services.kafka.impressions_topic)
    assert sorted(offsets) == list(range(services.kafka.partitions))
    admin = AdminClient({"bootstrap.servers": services.kafka.bootstrap_servers})
    [described] = admin.describe_configs([ConfigResource("topic", services.kafka.impressions_topic)]).values()
    configs = described.result(timeout=10)
    assert configs["message.timestamp.type"].value == "CreateTime"
    assert configs["retention.ms"].value == "-1"  # the test stack keeps its replayed 2026 days


def test_triton_scores_labelled_captions_in_one_batch_per_call(services):
    scorer = SafetyScorer(services.triton)
    scorer.open()
    try:
        model = scorer.model
        rows = captions.load()
        scores = scorer.score([c.text for c in rows])
    finally:
        scorer.close()
    assert model.name == "safety_text" and model.version == "1"
    assert model.categories == ("toxicity", "hate", "sexual", "violence", "self_harm", "spam")
    assert scores.shape == (len(rows), 6) and scores.dtype == np.float32
    assert np.all((scores >= 0) & (scores <= 1))
    assert scorer.stats.calls == 1
    # The training captions themselves are separated well; the README gives held-out figures.
    unsafe = np.array([c.unsafe for c in rows])
    assert scores[unsafe].max(axis=1).mean() > scores[~unsafe].max(axis=1).mean() + 0.3


def test_an_unreachable_triton_gives_unscored_batches_not_safe_ones():
    scorer = SafetyScorer(TritonSettings(url="127.0.0.1:1", timeout_s=0.5, retries=1))
    scorer.open()
    try:
        assert scorer.score(["hello"]) is None
    finally:
        scorer.close()
    assert scorer.stats.unscored_items == 1 and scorer.stats.retries == 1


def test_migrations_are_applied_once_and_recorded(services):
    client = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    try:
        assert clickhouse.migrate(client) == []  # the stack applied them already
        assert clickhouse.schema_version(client) == clickhouse.load_migrations()[-1].version
        tables = {row[0] for row in client.query("SHOW TABLES").result_rows}
    finally:
        client.close()
    assert {"schema_migrations", "smoke_minute_counts"} <= tables


def test_an_edited_applied_migration_is_refused(services):
    client = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    try:
        first = clickhouse.load_migrations()[0]
        edited = clickhouse.Migration(first.version, first.name, first.sql + "\n-- edited\n")
        with pytest.raises(RiskstreamError, match="edited after it was applied"):
            clickhouse.migrate(client, [edited])
    finally:
        client.close()


def test_an_unreachable_clickhouse_server_fails_fast_with_its_address():
    from riskstream.core.config import ClickHouseSettings

    with pytest.raises(ServiceUnavailable, match="127.0.0.1:1"):
        clickhouse.connect(ClickHouseSettings(url="http://127.0.0.1:1"))


def test_the_registry_holds_the_schema_history_and_refuses_a_breaking_change(services):
    import json

    from confluent_kafka.schema_registry.error import SchemaRegistryError

    from riskstream.core import schemas
    from riskstream.io.registry import Registry

    registry = Registry(services.registry)
    try:
        history = schemas.versions(schemas.IMPRESSION_HISTORY)
        ids = [registry.register(services.registry.subject, v.text) for v in history]  # idempotent
        assert registry.schema_by_id(ids[-1])["name"] == "riskstream.Impression"
        assert registry.schema_by_id(999_999) is None
        breaking = json.loads(history[-1].text)
        breaking["fields"].append({"name": "required_without_default", "type": "string"})
        with pytest.raises(SchemaRegistryError) as refused:
            registry.register(services.registry.subject, json.dumps(breaking))
        assert refused.value.http_status_code == 409
    finally:
        registry.close()


def test_registry_ids_survive_a_registry_restart(stack, services):
    from riskstream.core import schemas
    from riskstream.io.registry import Registry
    from riskstream.io import stack_state as state
    from riskstream.stack import manager, process

    registry = Registry(services.registry)
    latest = schemas.versions(schemas.IMPRESSION_HISTORY)[-1].text
    schema_id = registry.register(services.registry.subject, latest)
    registry.close()
    process.terminate(state.load(stack.state_dir)["registry"].pid)
    manager.up(stack)
    registry = Registry(services.registry)
    try:
        assert registry.schema_by_id(schema_id)["name"] == "riskstream.Impression"
        assert registry.register(services.registry.subject, latest) == schema_id
    finally:
        registry.close()


def test_an_unreachable_registry_fails_fast_with_the_address_it_tried():
    from riskstream.core.config import RegistrySettings
    from riskstream.core.errors import SchemaRegistryUnavailable
    from riskstream.io.registry import Registry

    registry = Registry(RegistrySettings(url="http://127.0.0.1:9/apis/ccompat/v7"), timeout_s=2)
    with pytest.raises(SchemaRegistryUnavailable, match="127.0.0.1:9"):
        registry.schema_by_id(1)


def test_the_job_refuses_to_start_on_a_registry_that_does_not_answer_its_api(services):
    import dataclasses

    from jobs import safety_health
    from riskstream.core.config import RegistrySettings
    from riskstream.core.job_config import HealthJobSettings
    from riskstream.core.errors import SchemaRegistryUnavailable

    # Down, and up but at the wrong path (the registry's root, not its Confluent-compatible API).
    root = services.registry.url.removesuffix("/apis/ccompat/v7")
    for url in ("http://127.0.0.1:9", root):
        broken = dataclasses.replace(services, registry=RegistrySettings(url=url))
        with pytest.raises(SchemaRegistryUnavailable, match=url):
            safety_health.prepare(broken, HealthJobSettings())
    safety_health.prepare(services, HealthJobSettings())  # the stack's own URL passes
