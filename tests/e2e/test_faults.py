"""The safety-health job under faults: SIGKILL and restart, a Triton outage, late data, idle partitions."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from dashboards import render, rule_eval
from jobs import runtime, safety_health
from riskstream.io import clickhouse, kafka_admin, topics
from riskstream.core import paths
from riskstream.core.job_config import HealthJobSettings
from riskstream.cli.generator import SURFACES, GeneratorSettings, generate
from riskstream.io import stack_state as state
from riskstream.stack import manager, process
from tests.e2e import kafka_io, store
from riskstream.core import schemas
from udfs.wire import Encoder, SchemaHistory, WireFormat

CODEC = Encoder(SchemaHistory.from_folder(schemas.IMPRESSION_HISTORY).latest, WireFormat.SINGLE_OBJECT)
MINUTE = 60_000


def _records(seed: int, count: int, start_ms: int, rate: float = 5.0) -> list[dict]:
    return [g.record for g in generate(GeneratorSettings(seed=seed, count=count, rate=rate, start_ms=start_ms))]


def _send(services, records: list[dict], partition: int | None = None) -> list[tuple[int, int]]:
    return kafka_io.send(services.kafka.bootstrap_servers, services.kafka.impressions_topic,
                         [(r["user_id_hash"].encode(), CODEC.encode(r), r["event_time"]) for r in records], partition)


def _offsets(services) -> dict[int, int]:
    kafka_admin.ensure_topics(services.kafka.bootstrap_servers, topics.specs(services.kafka))
    return kafka_admin.end_offsets(services.kafka.bootstrap_servers, services.kafka.impressions_topic)




def _tumbling_counts(services, job_id: str) -> Counter:
    rows = store.query(services, "SELECT toUnixTimestamp64Milli(window_start) AS start, surface, region, "
                            "recommender_model_version AS version, item_category AS category, impressions "
                            "FROM safety_health FINAL WHERE job_id = {job:String} AND window_seconds = 60", job=job_id)
    return Counter({(r["start"], r["surface"], r["region"], r["version"], r["category"]): r["impressions"] for r in rows})


def _expected_counts(records: list[dict]) -> Counter:
    return Counter((r["event_time"] - r["event_time"] % MINUTE, r["surface"], r["region"],
                    r["recommender_model_version"], r["item_category"]) for r in records)


def _wait_processed(services, job_id: str) -> None:
    kafka_admin.wait_committed(services.kafka.bootstrap_servers, safety_health.consumer_group(job_id),
                               services.kafka.impressions_topic, _offsets(services))


def _wait_group_gone(pgid: int, timeout_s: float = 30.0) -> None:
    """Until every process of the killed job (JVM, Python workers) is gone and has let go of chDB."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    raise AssertionError(f"processes of group {pgid} still alive after SIGKILL")


def _job_environment() -> dict[str, str]:
    """This process's environment without PyFlink's gateway variables: once a job has run in this
    process they say "gateway already running" (or "disabled"), which a new job process must not inherit."""
    return {k: v for k, v in os.environ.items() if not k.lstrip("_").startswith("PYFLINK_")}


def _offsets_arg(offsets: dict[int, int]) -> str:
    return ",".join(f"{p}:{o}" for p, o in sorted(offsets.items()))


def test_sigkill_then_restart_from_checkpoint_loses_nothing_and_counts_nothing_twice(services, tmp_path):
    start_ms = 1_767_312_000_000  # 2026-01-02T00:00:00Z
    start = _offsets(services)
    first = _records(21, 1500, start_ms)
    _send(services, first)
    checkpoint_dir = tmp_path / "checkpoints"
    command = [sys.executable, "-m", "jobs.safety_health", "--kafka-bootstrap", services.kafka.bootstrap_servers,
               "--triton-url", services.triton.url, "--clickhouse-url", services.clickhouse.url,
               "--start-offsets", _offsets_arg(start), "--checkpoint-dir", str(checkpoint_dir),
               "--checkpoint-interval-s", "1", "--job-id", "e2e-crash", "--state-dir", str(tmp_path)]
    with (tmp_path / "first-run.log").open("w") as log:
        job = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                               cwd=paths.REPO_ROOT, env=_job_environment())
    try:
        # A checkpoint has covered the first batch: windows fired and rows were written before the kill.
        _wait_processed(services, "e2e-crash")
        assert job.poll() is None, (tmp_path / "first-run.log").read_text()[-3000:]
        second = _records(22, 1500, start_ms + 5 * MINUTE)
        _send(services, second)
        time.sleep(2)  # mid-stream: part of the second batch is processed and written
        assert job.poll() is None
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
        _wait_group_gone(job.pid)

    # Resume from the last checkpoint, let it catch up, then drain every window with a final savepoint.
    resumed = HealthJobSettings(start_offsets=start, job_id="e2e-crash", checkpoint_dir=checkpoint_dir,
                                checkpoint_interval_ms=1_000, from_checkpoint="latest")
    client, _ = safety_health.start(services, resumed)
    try:
        _wait_processed(services, "e2e-crash")
    finally:
        runtime.drain(client, tmp_path / "savepoints")

    actual = _tumbling_counts(services, "e2e-crash")
    assert actual == _expected_counts(first + second)
    assert sum(actual.values()) == 3000


def test_a_triton_outage_counts_unscored_items_and_scoring_resumes(services, stack, tmp_path):
    start_ms = 1_767_398_400_000  # 2026-01-03T00:00:00Z
    job = HealthJobSettings(start_offsets=_offsets(services), job_id="e2e-outage", checkpoint_dir=tmp_path,
                            checkpoint_interval_ms=2_000)
    client, _ = safety_health.start(services, job)
    try:
        _send(services, _records(31, 600, start_ms))                       # minutes 0-1: Triton up
        _wait_processed(services, "e2e-outage")
        process.terminate(state.load(stack.state_dir)["triton"].pid)
        _send(services, _records(32, 600, start_ms + 2 * MINUTE))          # minutes 2-3: Triton down
        _wait_processed(services, "e2e-outage")
        assert "RUNNING" in str(client.get_job_status().result())
        manager.up(stack)                                                  # Triton back on its port
        _send(services, _records(33, 600, start_ms + 4 * MINUTE))          # minutes 4-5: Triton up again
        _wait_processed(services, "e2e-outage")
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
    [coverage] = [r for r in rule_eval.load(render.ALERT_RULES) if r.uid == "riskstream-coverage-drop"]
    client = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    try:
        before = rule_eval.evaluate(client, coverage, start_ms + 1 * MINUTE)
        after = rule_eval.evaluate(client, coverage, start_ms + 9 * MINUTE)
    finally:
        client.close()
    assert before and all(i.state == "normal" for i in before), before
    assert {dict(i.labels)["surface"] for i in after if i.firing} == set(SURFACES), after


def test_late_records_are_counted_apart_and_allowed_lateness_updates_a_fired_window(services, tmp_path):
    start_ms = 1_767_484_800_000  # 2026-01-04T00:00:00Z
    job = HealthJobSettings(start_offsets=_offsets(services), job_id="e2e-late", checkpoint_dir=tmp_path,
                            checkpoint_interval_ms=2_000)
    on_time = _records(41, 1650, start_ms)                                 # 5.5 minutes
    template = _records(42, 10, start_ms)
    too_late = [{**r, "event_id": f"late-{i}", "event_time": start_ms + 1 * MINUTE + 5_000 + i}
                for i, r in enumerate(template[:5])]                       # window 1 closed at minute 3
    allowed = [{**r, "event_id": f"allowed-{i}", "event_time": start_ms + 4 * MINUTE + 10_000 + i}
               for i, r in enumerate(template[5:])]                        # window 4 fired, still open
    client, _ = safety_health.start(services, job)
    try:
        _send(services, on_time)
        _wait_processed(services, "e2e-late")  # so the watermark has passed minute 5 of event time
        late_positions = _send(services, too_late)
        _send(services, allowed)
        _wait_processed(services, "e2e-late")
    finally:
        runtime.drain(client, tmp_path / "savepoints")

    late = store.query(services, "SELECT source_partition, source_offset, event_id FROM late_events FINAL "
                            "WHERE job_id = 'e2e-late'")
    assert sorted((r["source_partition"], r["source_offset"]) for r in late) == sorted(late_positions)
    assert _tumbling_counts(services, "e2e-late") == _expected_counts(on_time + allowed)


@pytest.mark.parametrize("idle_timeout_s", [1, 0], ids=["idle-timeout", "no-idle-timeout"])
def test_idle_partitions_stop_holding_the_watermark_back_after_the_idle_timeout(services, tmp_path, idle_timeout_s):
    """Only partition 0 gets records. With an idle timeout the other partitions are marked idle and
    windows fire on partition 0's watermark while the job runs; without one they never fire."""
    start_ms = 1_767_571_200_000 + idle_timeout_s * 60 * MINUTE  # 2026-01-05, one hour apart per case
    job_id = f"e2e-idle-{idle_timeout_s}"
    job = HealthJobSettings(start_offsets=_offsets(services), job_id=job_id, checkpoint_dir=tmp_path,
                            checkpoint_interval_ms=1_000, idle_timeout_ms=idle_timeout_s * 1000,
                            out_of_orderness_ms=1_000, allowed_lateness_ms=0)
    records = _records(51, 900, start_ms)                                  # 3 minutes of event time
    assert services.kafka.partitions > 1
    client, _ = safety_health.start(services, job)
    try:
        _send(services, records, partition=0)
        _wait_processed(services, job_id)
        time.sleep(5)  # > idle timeout, and the writer's flush interval
    finally:
        # Without draining: only windows the real watermark closed are written.
        runtime.stop(client, tmp_path / "savepoints", drain=False)

    closed = _expected_counts([r for r in records if r["event_time"] < start_ms + 2 * MINUTE])
    actual = _tumbling_counts(services, job_id)
    if idle_timeout_s:
        assert actual == closed
    else:
        assert not actual
