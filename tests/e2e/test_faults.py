"""The safety-health job under faults: SIGKILL and restart, a Triton outage, late data, idle partitions."""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from jobs import runtime, safety_health
from riskstream.io import checkpoints, processes
from riskstream.io.flink_rest import FlinkRest, location_path
from riskstream.core import paths
from riskstream.core.job_config import HealthJobSettings, ScoreCacheSettings, format_offsets
from riskstream.cli.generator import SURFACES
from riskstream.io import stack_state as state
from riskstream.stack import manager, process
from tests.e2e import kafka_io, store, stream

def test_sigkill_then_restart_from_checkpoint_loses_nothing_and_counts_nothing_twice(services, tmp_path):
    start_ms = 1_767_312_000_000  # 2026-01-02T00:00:00Z
    start = stream.offsets(services)
    first = stream.records(21, 1500, start_ms)
    stream.send(services, first)
    checkpoint_dir = tmp_path / "checkpoints"
    command = [sys.executable, "-m", "jobs.safety_health", "--kafka-bootstrap", services.kafka.bootstrap_servers,
               "--triton-url", services.triton.url, "--clickhouse-url", services.clickhouse.url,
               "--start-offsets", format_offsets(start), "--checkpoint-dir", str(checkpoint_dir),
               "--checkpoint-interval-s", "1", "--job-id", "e2e-crash", "--state-dir", str(tmp_path)]
    with (tmp_path / "first-run.log").open("w") as log:
        job = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                               cwd=paths.REPO_ROOT, env=processes.job_environment())
    try:
        # A checkpoint has covered the first batch: windows fired and rows were written before the kill.
        stream.wait_processed(services, "e2e-crash")
        assert job.poll() is None, (tmp_path / "first-run.log").read_text()[-3000:]
        second = stream.records(22, 1500, start_ms + 5 * stream.MINUTE)
        stream.send(services, second)
        time.sleep(2)  # mid-stream: part of the second batch is processed and written
        assert job.poll() is None
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
        stream.wait_group_gone(job.pid)

    # Resume from the last checkpoint, let it catch up, then drain every window with a final savepoint.
    latest = checkpoints.latest(checkpoint_dir)
    resumed = HealthJobSettings(start_offsets=start, job_id="e2e-crash", checkpoint_dir=checkpoint_dir,
                                checkpoint_interval_ms=1_000, from_checkpoint="latest")
    started = safety_health.start(services, resumed)
    rest = FlinkRest(started.run.rest_url)
    try:
        stream.wait_processed(services, "e2e-crash")
        restored = rest.restored(started.run.flink_job_id)
        emitted = rest.records_out(started.run.flink_job_id)
    finally:
        runtime.drain(started.client, tmp_path / "savepoints")

    # A restore, not a replay: Flink restored the latest checkpoint, and the source read only what that
    # checkpoint had not covered (it covered the whole first batch: its offsets were committed).
    # (Flink counts a restore through execution.state-recovery.path as a savepoint restore.)
    assert restored is not None and location_path(restored.external_path) == location_path(latest)
    # The impressions' source (the policies topic has one of its own, for the audit trail).
    [source] = [count for name, count in emitted.items()
                if name.startswith("Source: KafkaSource") and "impressions_raw" in name]
    assert source <= len(second), emitted
    actual = stream.tumbling_counts(services, "e2e-crash")
    assert actual == stream.expected_counts(first + second)
    assert sum(actual.values()) == 3000


def test_a_savepoint_that_ends_a_bundle_keeps_the_timers_of_the_windows_the_bundle_opened(services, tmp_path):
    """Bundles end here only at the savepoint, and no watermark reaches them (the other partitions are
    empty and not yet idle), so every window of the run was opened in the bundle the savepoint ends and
    nothing else applies its timers: the resumed job must still fire them all. (With PyFlink 2.3's own
    operator, which applies those timers after the snapshot, this job wrote nothing: see jobs/keyed.py.)"""
    start_ms = 1_767_398_400_000  # 2026-01-03T00:00:00Z
    start = stream.offsets(services)
    records = stream.records(31, 600, start_ms)
    stream.send(services, records, partition=0)
    held = HealthJobSettings(start_offsets=start, job_id="e2e-held-bundle", bundle_size=1_000_000,
                             bundle_time_ms=600_000, idle_timeout_ms=600_000)
    started = safety_health.start(services, held)
    rest = FlinkRest(started.run.rest_url)
    try:
        deadline = time.monotonic() + 120
        while _impressions_read(rest, started.run.flink_job_id) < len(records):
            assert time.monotonic() < deadline, rest.records_in(started.run.flink_job_id)
            time.sleep(0.5)
        # Nothing has left the Python operators yet: their first bundle is still open.
        assert stream.tumbling_counts(services, "e2e-held-bundle") == Counter()
    finally:
        savepoint = runtime.stop(started.client, tmp_path / "savepoints", drain=False)

    resumed = dataclasses.replace(held, bundle_size=HealthJobSettings.bundle_size,
                                  bundle_time_ms=HealthJobSettings.bundle_time_ms,
                                  idle_timeout_ms=HealthJobSettings.idle_timeout_ms,
                                  from_checkpoint=str(location_path(savepoint)))
    started = safety_health.start(services, resumed)
    try:
        FlinkRest(started.run.rest_url).wait_all_running(started.run.flink_job_id)
    finally:
        runtime.drain(started.client, tmp_path / "savepoints")
    assert stream.tumbling_counts(services, "e2e-held-bundle") == stream.expected_counts(records)


def _impressions_read(rest: FlinkRest, flink_job_id: str) -> int:
    return sum(count for name, count in rest.records_in(flink_job_id).items()
               if name.startswith("Source: KafkaSource") and "impressions_raw" in name)


def test_a_triton_outage_counts_unscored_items_and_scoring_resumes(services, stack, tmp_path):
    start_ms = 1_767_398_400_000  # 2026-01-03T00:00:00Z
    # The score cache off: this is the Triton call's fallback. With it on, items whose scores it holds
    # stay scored through an outage (tests/unit/test_score_cache.py).
    job = HealthJobSettings(start_offsets=stream.offsets(services), job_id="e2e-outage", checkpoint_dir=tmp_path,
                            checkpoint_interval_ms=2_000, score_cache=ScoreCacheSettings(max_items=0))
    client = safety_health.start(services, job).client
    try:
        stream.send(services, stream.records(31, 600, start_ms))                       # minutes 0-1: Triton up
        stream.wait_processed(services, "e2e-outage")
        process.terminate(state.load(stack.state_dir)["triton"].pid)
        stream.send(services, stream.records(32, 600, start_ms + 2 * stream.MINUTE))          # minutes 2-3: Triton down
        stream.wait_processed(services, "e2e-outage")
        assert "RUNNING" in str(client.get_job_status().result())
        manager.up(stack)                                                  # Triton back on its port
        stream.send(services, stream.records(33, 600, start_ms + 4 * stream.MINUTE))          # minutes 4-5: Triton up again
        stream.wait_processed(services, "e2e-outage")
    finally:
        runtime.drain(client, tmp_path / "savepoints")
        manager.up(stack)

    rows = store.query(services, "SELECT intDiv(toUnixTimestamp64Milli(window_start) - {start:Int64}, 60000) AS minute, "
                            "sum(impressions) AS n, sum(scored) AS scored, sum(unscored) AS unscored "
                            "FROM safety_health FINAL WHERE job_id = 'e2e-outage' AND window_seconds = 60 "
                            "GROUP BY minute ORDER BY minute", start=start_ms)
    by_minute = {r["minute"]: r for r in rows}
    assert sum(r["n"] for r in rows) == 1800
    for minute in (0, 1, 4, 5):
        assert by_minute[minute]["unscored"] == 0, by_minute[minute]
    for minute in (2, 3):
        assert by_minute[minute]["unscored"] == by_minute[minute]["n"] > 0, by_minute[minute]

    # The provisioned coverage rule: quiet before the outage, firing for every surface after it
    # (its 10-minute range still holds minutes 2-3, and the condition has held for its `for`).
    before, after = store.evaluate_rule(services, "riskstream-coverage-drop", start_ms + 1 * stream.MINUTE,
                                        start_ms + 9 * stream.MINUTE)
    assert before and all(i.state == "normal" for i in before), before
    assert {dict(i.labels)["surface"] for i in after if i.firing} == set(SURFACES), after


def test_late_records_are_counted_apart_and_allowed_lateness_updates_a_fired_window(services, tmp_path):
    start_ms = 1_767_484_800_000  # 2026-01-04T00:00:00Z
    job = HealthJobSettings(start_offsets=stream.offsets(services), job_id="e2e-late", checkpoint_dir=tmp_path,
                            checkpoint_interval_ms=2_000)
    on_time = stream.records(41, 1650, start_ms)                                 # 5.5 minutes
    template = stream.records(42, 10, start_ms)
    too_late = [{**r, "event_id": f"late-{i}", "event_time": start_ms + 1 * stream.MINUTE + 5_000 + i}
                for i, r in enumerate(template[:5])]                       # window 1 closed at minute 3
    allowed = [{**r, "event_id": f"allowed-{i}", "event_time": start_ms + 4 * stream.MINUTE + 10_000 + i}
               for i, r in enumerate(template[5:])]                        # window 4 fired, still open
    client = safety_health.start(services, job).client
    try:
        stream.send(services, on_time)
        stream.wait_processed(services, "e2e-late")  # so the watermark has passed minute 5 of event time
        late_positions = stream.send(services, too_late)
        stream.send(services, allowed)
        stream.wait_processed(services, "e2e-late")
    finally:
        runtime.drain(client, tmp_path / "savepoints")

    late = store.query(services, "SELECT source_partition, source_offset, event_id FROM late_events FINAL "
                            "WHERE job_id = 'e2e-late'")
    assert sorted((r["source_partition"], r["source_offset"]) for r in late) == sorted(late_positions)
    assert stream.tumbling_counts(services, "e2e-late") == stream.expected_counts(on_time + allowed)
    # The late metric per window and slice: every too-late record under the window it was too late for.
    per_window = store.query(services, "SELECT toUnixTimestamp64Milli(window_start) AS start, surface, region, "
                                       "recommender_model_version AS version, item_category AS category, count() AS n "
                                       "FROM late_events FINAL WHERE job_id = 'e2e-late' "
                                       "GROUP BY start, surface, region, version, category")
    assert Counter({(r["start"], r["surface"], r["region"], r["version"], r["category"]): r["n"] for r in per_window}) \
        == stream.expected_counts(too_late)


@pytest.mark.parametrize("idle_timeout_s", [1, 0], ids=["idle-timeout", "no-idle-timeout"])
def test_idle_partitions_stop_holding_the_watermark_back_after_the_idle_timeout(services, tmp_path, idle_timeout_s):
    """Only partition 0 gets records. With an idle timeout the other partitions are marked idle and
    windows fire on partition 0's watermark while the job runs; without one they never fire."""
    start_ms = 1_767_571_200_000 + idle_timeout_s * 60 * stream.MINUTE  # 2026-01-05, one hour apart per case
    job_id = f"e2e-idle-{idle_timeout_s}"
    job = HealthJobSettings(start_offsets=stream.offsets(services), job_id=job_id, checkpoint_dir=tmp_path,
                            checkpoint_interval_ms=1_000, idle_timeout_ms=idle_timeout_s * 1000,
                            out_of_orderness_ms=1_000, allowed_lateness_ms=0)
    records = stream.records(51, 900, start_ms)                                  # 3 minutes of event time
    assert services.kafka.partitions > 1
    client = safety_health.start(services, job).client
    try:
        stream.send(services, records, partition=0)
        stream.wait_processed(services, job_id)
        time.sleep(5)  # > idle timeout, and the writer's flush interval
    finally:
        # Without draining: only windows the real watermark closed are written.
        runtime.stop(client, tmp_path / "savepoints", drain=False)

    closed = stream.expected_counts([r for r in records if r["event_time"] < start_ms + 2 * stream.MINUTE])
    actual = stream.tumbling_counts(services, job_id)
    if idle_timeout_s:
        assert actual == closed
    else:
        assert not actual


def test_a_registry_outage_does_not_stop_records_whose_writer_schema_the_job_has(services, stack, tmp_path):
    """Confluent-format records name their writer schema by registry id; once the job has fetched an id it
    keeps the schema, so the registry going away mid-stream costs nothing for records that use it."""
    from riskstream.cli.produce import impression_encoder

    start_ms = 1_767_744_000_000  # 2026-01-07T00:00:00Z
    encoder = impression_encoder(services.kafka, services.registry)  # registers (or finds) the id first

    def send(records):
        return kafka_io.send(services.kafka.bootstrap_servers, services.kafka.impressions_topic,
                             [(r["user_id_hash"].encode(), encoder.encode(r), r["event_time"]) for r in records])

    before, during = stream.records(71, 600, start_ms), stream.records(72, 600, start_ms + 2 * stream.MINUTE)
    job = HealthJobSettings(start_offsets=stream.offsets(services), job_id="e2e-registry-outage",
                            checkpoint_dir=tmp_path, checkpoint_interval_ms=2_000)
    client = safety_health.start(services, job).client
    try:
        send(before)
        stream.wait_processed(services, "e2e-registry-outage")
        process.terminate(state.load(stack.state_dir)["registry"].pid)
        send(during)
        stream.wait_processed(services, "e2e-registry-outage")
        assert "RUNNING" in str(client.get_job_status().result())
    finally:
        runtime.drain(client, tmp_path / "savepoints")
        manager.up(stack)  # the registry back on its port, its schemas kept in its H2 file

    assert stream.tumbling_counts(services, "e2e-registry-outage") == stream.expected_counts(before + during)
    dead = store.query(services, "SELECT count() AS n FROM dead_letters WHERE job_id = 'e2e-registry-outage'")
    assert dead == [{"n": 0}]
