"""Where a reader starts, against a real broker: the first records' timestamps (where a job starts reading
labels when no label offsets are given)."""
from __future__ import annotations

import uuid
from dataclasses import replace

from jobs import safety_health
from riskstream.core.job_config import HealthJobSettings
from riskstream.io import kafka_admin
from riskstream.io.kafka_admin import TopicSpec
from tests.e2e import kafka_io


def test_the_first_timestamp_is_the_earliest_of_each_partitions_first_record_read(services):
    bootstrap = services.kafka.bootstrap_servers
    topic = f"positions-{uuid.uuid4().hex[:8]}"
    kafka_admin.ensure_topics(bootstrap, [TopicSpec(topic, 2, {})])
    assert kafka_admin.first_timestamp(bootstrap, topic) is None  # nothing to read
    kafka_io.send(bootstrap, topic, [(b"a", b"1", 5_000), (b"a", b"2", 1_000)], partition=0)
    kafka_io.send(bootstrap, topic, [(b"b", b"3", 3_000), (b"b", b"4", 9_000)], partition=1)
    # Partition 0's first record says 5,000 (its second is older, as producers' clocks allow), partition 1's 3,000.
    assert kafka_admin.first_timestamp(bootstrap, topic) == 3_000
    assert kafka_admin.first_timestamp(bootstrap, topic, {0: 1, 1: 1}) == 1_000
    assert kafka_admin.first_timestamp(bootstrap, topic, {0: 2, 1: 1}) == 9_000  # partition 0 read to its end


def test_a_job_reads_labels_from_its_first_impression_less_the_allowed_lateness(services):
    bootstrap = services.kafka.bootstrap_servers
    kafka = replace(services.kafka, impressions_topic=f"impressions-{uuid.uuid4().hex[:8]}")
    kafka_admin.ensure_topics(bootstrap, [TopicSpec(kafka.impressions_topic, 1, {})])
    kafka_io.send(bootstrap, kafka.impressions_topic, [(b"u", b"x", 1_767_225_600_000)])
    job = HealthJobSettings(allowed_lateness_ms=60_000, label_join=True)
    assert safety_health.label_start(kafka, job) == 1_767_225_600_000 - 60_000
    assert safety_health.label_start(kafka, HealthJobSettings(label_join=True, label_start_offsets={0: 4})) is None
    assert safety_health.label_start(kafka, HealthJobSettings()) is None  # the join is off
