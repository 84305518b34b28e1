"""The safety-health job's OpenLineage run (`riskstream.io.openlineage`): the topics it reads and the tables and
topics it writes, and, at each event, the impressions' offset ranges, the model version and the policy in force.

Offsets: a run starts at --start-offsets, else (restored from a checkpoint) where its consumer group committed,
else at each partition's first offset; it has read up to what its group committed (Flink commits on each
checkpoint, after every record before the barrier passed every operator), or, once a bounded run completes, to
its end offsets (--end-offsets, or the offsets present when it started).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from jobs.sink_rows import TABLE_NAMES
from riskstream.core.config import ServiceSettings
from riskstream.core.job_config import HealthJobSettings
from riskstream.io import kafka_admin, policy_topic
from riskstream.io.openlineage import LineageRun, RunFacts, clickhouse_dataset, kafka_dataset
from riskstream.io.triton_client import ModelInfo, model_info
from udfs import policy_log

log = logging.getLogger(__name__)
NOT_WRITTEN = {"smoke_minute_counts"}  # the smoke job's


@dataclass
class JobLineage:
    """One run's lineage: emits its events with the facts of their moment."""

    run: LineageRun
    services: ServiceSettings
    job: HealthJobSettings
    group: str
    model: ModelInfo
    policy_version: str
    start_offsets: dict[int, int]
    bounded_end: dict[int, int] | None

    def start(self) -> None:
        self.run.start(self._facts(None))

    def running(self) -> None:
        self.run.running(self._facts(self._committed()))

    def complete(self) -> None:
        self.run.complete(self._facts(self.bounded_end if self.bounded_end is not None else self._committed()))

    def fail(self, error: BaseException) -> None:
        self.run.fail(self._facts(self._committed()), error)

    def close(self) -> None:
        self.run.close()

    def _committed(self) -> dict[int, int] | None:
        """What the run's group committed (None: Kafka cannot say now; the event then names no end)."""
        try:
            committed = kafka_admin.committed_offsets(self.services.kafka, self.group,
                                                      self.services.kafka.impressions_topic)
        except Exception as exc:  # noqa: BLE001 - lineage must never stop or mask the job's own outcome
            log.warning("OpenLineage: the offsets run %s read are unknown: %s", self.run.run_id, exc)
            return None
        return {p: committed.get(p, start) for p, start in self.start_offsets.items()}

    def _facts(self, end: dict[int, int] | None) -> RunFacts:
        """The model version Triton serves and the policy active now (the last known where either cannot
        be read)."""
        try:
            self.model = model_info(self.services.triton.url, self.services.triton.model_name)
        except Exception:  # noqa: BLE001 - an event names the last version known rather than none
            pass
        kafka = self.services.kafka
        try:
            active = policy_log.active(policy_log.decode_all(policy_topic.read_all(kafka), kafka.policies_topic,
                                                             self.model.categories))
            if active is not None:
                self.policy_version = active.version
        except Exception:  # noqa: BLE001 - as above
            pass
        return RunFacts(self.model.name, self.model.version, self.policy_version, self.start_offsets, end)


def begin(services: ServiceSettings, job: HealthJobSettings, group: str, model: ModelInfo, policy_version: str,
          restored: bool, flink_job_id: str, engine_version: str) -> JobLineage:
    """The lineage of a run just submitted; call `start()` to emit its START event."""
    kafka = services.kafka
    bounds = kafka_admin.offset_bounds(kafka, kafka.impressions_topic)
    first = {p: low for p, (low, _) in bounds.items()}
    if job.start_offsets:
        start = {p: job.start_offsets.get(p, low) for p, low in first.items()}
    elif restored:
        committed = kafka_admin.committed_offsets(kafka, group, kafka.impressions_topic)
        start = {p: committed.get(p, low) for p, low in first.items()}
    else:
        start = first
    if job.end_offsets:
        end = {p: job.end_offsets.get(p, start[p]) for p in start}
    else:
        end = {p: high for p, (_, high) in bounds.items()} if job.bounded else None
    inputs = [kafka.policies_topic, kafka.forget_requests_topic] + ([kafka.moderation_labels_topic]
                                                                    if job.label_join else [])
    tables = [t for t in TABLE_NAMES if t not in NOT_WRITTEN and (job.label_join or t != "label_outcomes")]
    run = LineageRun(
        settings=job.lineage, job_name=job.job_id, streaming=not (job.bounded or job.end_offsets),
        impressions=kafka_dataset(kafka.bootstrap_servers, kafka.impressions_topic),
        other_inputs=[kafka_dataset(kafka.bootstrap_servers, topic) for topic in inputs],
        outputs=[*(clickhouse_dataset(services.clickhouse, table) for table in tables),
                 *(kafka_dataset(kafka.bootstrap_servers, topic) for topic in (
                     kafka.dead_letter_topic, kafka.item_verdicts_topic, kafka.breaker_state_topic))],
        engine_version=engine_version, flink_job_id=flink_job_id)
    return JobLineage(run, services, job, group, model, policy_version, start, end)
