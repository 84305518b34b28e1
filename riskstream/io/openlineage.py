"""OpenLineage run events of a job run, through the openlineage-python client (the project's reference client):
START when the job is submitted, RUNNING every `interval_s` while it runs, COMPLETE when it ends, FAIL when it
fails; to a file (one JSON event per line) and, where configured, an HTTP endpoint (Marquez, DataHub...).

Each event names the job (namespace, name: the job id), the run (a UUID per submission), the input topics
(the impressions with the offset ranges read so far: facet `riskstream_kafkaOffsets`), the output tables and
topics, and facets for the safety model and the policy in force (`riskstream_safetyModel`,
`riskstream_policy`: the version now and every version seen by this run). Dataset names follow OpenLineage's
naming: Kafka `kafka://host:port` and the topic; ClickHouse `clickhouse://host:port` (embedded chDB:
`chdb://<hostname>`) and `database.table`. The custom facets' JSON Schemas are in schemas/openlineage/.

Emission never stops the job it describes: a failed emission is logged with the address it tried and counted.
"""
from __future__ import annotations

import json
import logging
import socket
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlparse

import attr
from openlineage.client import OpenLineageClient, set_producer
from openlineage.client import __version__ as client_version
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    InputDatasetFacet,
    RunFacet,
    error_message_run,
    input_statistics_input_dataset,
    job_type_job,
    processing_engine_run,
)
from openlineage.client.naming.dataset import Kafka
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

from riskstream.core import paths
from riskstream.core.config import ClickHouseSettings
from riskstream.core.job_config import LineageSettings

log = logging.getLogger(__name__)

PRODUCER = "urn:riskstream:openlineage"  # who wrote the events (a URI, as the spec asks)
FACETS_VERSION = "1-0-0"
SCHEMAS = paths.SCHEMAS_DIR / "openlineage"


def schema_url(facet: str) -> str:
    """The `_schemaURL` of one of riskstream's facets: the `$id` of its schema in schemas/openlineage/."""
    return f"urn:riskstream:openlineage:{FACETS_VERSION}:{facet}.json#/$defs/{facet}"


class _Riskstream:
    """riskstream's facets: each names its schema in schemas/openlineage/ by its class name."""

    @classmethod
    def _get_schema(cls) -> str:
        return schema_url(cls.__name__)


@attr.define
class KafkaOffsetsInputDatasetFacet(_Riskstream, InputDatasetFacet):
    """Per partition, the first offset read and the offset after the last one read (absent: still reading)."""

    partitions: list[dict] = attr.field(factory=list)


@attr.define
class _VersionsRunFacet(_Riskstream, RunFacet):
    """A version in force at the event, and every version the run's events have named, oldest first."""

    version: str
    versionsSeen: list[str] = attr.field(factory=list)  # noqa: N815


@attr.define
class SafetyModelRunFacet(_VersionsRunFacet):
    """The safety model scoring the run's impressions (Triton's newest version at the event)."""

    name: str = ""


@attr.define
class PolicyRunFacet(_VersionsRunFacet):
    """The safety policy in force."""


@attr.define
class JobRunFacet(_Riskstream, RunFacet):
    """The riskstream job id stamped on every row the run writes, and Flink's id of the submitted job."""

    jobId: str  # noqa: N815
    flinkJobId: str = ""  # noqa: N815


@dataclass(frozen=True)
class DatasetId:
    namespace: str
    name: str


def kafka_dataset(bootstrap_servers: str, topic: str) -> DatasetId:
    """A topic, named after the first bootstrap server (OpenLineage's Kafka naming)."""
    host, _, port = bootstrap_servers.split(",")[0].strip().rpartition(":")
    naming = Kafka(bootstrap_server_host=host, port=port, topic=topic)
    return DatasetId(naming.get_namespace(), naming.get_name())


def clickhouse_dataset(settings: ClickHouseSettings, table: str) -> DatasetId:
    if settings.is_embedded:
        namespace = f"chdb://{socket.gethostname()}"
    else:
        url = urlparse(settings.url)
        namespace = f"clickhouse://{url.hostname}:{url.port or (8443 if url.scheme == 'https' else 8123)}"
    return DatasetId(namespace, f"{settings.database}.{table}")


@dataclass(frozen=True)
class RunFacts:
    """What one event says about the run at its moment."""

    model_name: str
    model_version: str
    policy_version: str
    start_offsets: dict[int, int]
    end_offsets: dict[int, int] | None = None  # the offset after the last one read, per partition


@dataclass
class LineageRun:
    """One submission of a job: its run id, what it reads and writes, and the client that emits its events."""

    settings: LineageSettings
    job_name: str
    streaming: bool
    impressions: DatasetId
    other_inputs: list[DatasetId]
    outputs: list[DatasetId]
    engine_version: str
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    flink_job_id: str = ""
    failed_emissions: int = 0
    _models: list[str] = field(default_factory=list)
    _policies: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        set_producer(PRODUCER)  # every facet the client makes names riskstream as its producer too
        self.clients = _clients(self.settings)

    def start(self, facts: RunFacts) -> None:
        self._emit(RunState.START, facts)

    def running(self, facts: RunFacts) -> None:
        self._emit(RunState.RUNNING, facts)

    def complete(self, facts: RunFacts) -> None:
        self._emit(RunState.COMPLETE, facts)

    def fail(self, facts: RunFacts, error: BaseException) -> None:
        message = error_message_run.ErrorMessageRunFacet(
            message=f"{type(error).__name__}: {error}", programmingLanguage="python",
            stackTrace="".join(traceback.format_exception(error)))
        self._emit(RunState.FAIL, facts, {"errorMessage": message})

    def close(self) -> None:
        for client in self.clients.values():
            client.close(timeout=5.0)

    def event(self, state: RunState, facts: RunFacts, extra: dict | None = None) -> RunEvent:
        """The run event for `state` with `facts` (what `_emit` sends)."""
        for seen, version in ((self._models, facts.model_version), (self._policies, facts.policy_version)):
            if version and version not in seen:
                seen.append(version)
        run_facets = {
            "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
                version=self.engine_version, name="Apache Flink", openlineageAdapterVersion=client_version),
            "riskstream_job": JobRunFacet(jobId=self.job_name, flinkJobId=self.flink_job_id),
            "riskstream_safetyModel": SafetyModelRunFacet(name=facts.model_name, version=facts.model_version,
                                                          versionsSeen=list(self._models)),
            "riskstream_policy": PolicyRunFacet(version=facts.policy_version, versionsSeen=list(self._policies)),
            **(extra or {}),
        }
        job_facets = {"jobType": job_type_job.JobTypeJobFacet(
            processingType="STREAMING" if self.streaming else "BATCH", integration="FLINK", jobType="JOB")}
        impressions = InputDataset(self.impressions.namespace, self.impressions.name,
                                   inputFacets=_offset_facets(facts.start_offsets, facts.end_offsets))
        return RunEvent(
            eventType=state, eventTime=datetime.now(timezone.utc).isoformat(), producer=PRODUCER,
            run=Run(runId=self.run_id, facets=run_facets),
            job=Job(namespace=self.settings.namespace, name=self.job_name, facets=job_facets),
            inputs=[impressions, *(InputDataset(d.namespace, d.name) for d in self.other_inputs)],
            outputs=[OutputDataset(d.namespace, d.name) for d in self.outputs])

    def _emit(self, state: RunState, facts: RunFacts, extra: dict | None = None) -> None:
        if not self.clients:
            return
        event = self.event(state, facts, extra)
        for target, client in self.clients.items():
            try:
                client.emit(event)
            except Exception as exc:  # noqa: BLE001 - lineage must never stop the job it describes
                self.failed_emissions += 1
                log.warning("OpenLineage %s event of run %s not emitted to %s: %s", state.value, self.run_id,
                            target, exc)


def _offset_facets(start: dict[int, int], end: dict[int, int] | None) -> dict:
    partitions = []
    for partition in sorted(start):
        entry = {"partition": partition, "startOffset": start[partition]}
        if end is not None:
            entry["endOffset"] = max(end.get(partition, start[partition]), start[partition])
        partitions.append(entry)
    facets: dict = {"riskstream_kafkaOffsets": KafkaOffsetsInputDatasetFacet(partitions=partitions)}
    if end is not None:
        facets["inputStatistics"] = input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
            rowCount=sum(p["endOffset"] - p["startOffset"] for p in partitions))
    return facets


def _clients(settings: LineageSettings) -> dict[str, OpenLineageClient]:
    """One client per target configured (a file, an HTTP endpoint), by a description of where it writes, so
    a target that fails is named and the others still get the event."""
    clients = {}
    if settings.file:
        settings.file.parent.mkdir(parents=True, exist_ok=True)
        clients[f"file {settings.file}"] = OpenLineageClient(
            transport=FileTransport(FileConfig(log_file_path=str(settings.file), append=True)))
    if settings.url:
        extra = {"auth": ApiKeyTokenProvider({"api_key": str(settings.api_key)})} if settings.api_key else {}
        config = HttpConfig(url=settings.url, endpoint=settings.endpoint, timeout=settings.timeout_s,
                            retry={"total": 2, "read": 2, "connect": 2, "backoff_factor": 0.2,
                                   "status_forcelist": [500, 502, 503, 504], "allowed_methods": ["POST"]},
                            **extra)
        clients[f"{settings.url.rstrip('/')}/{settings.endpoint}"] = OpenLineageClient(transport=HttpTransport(config))
    return clients


def read_events(path) -> list[dict]:
    """The events a file transport wrote, oldest first."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
