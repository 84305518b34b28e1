"""`riskstream explain` on what the job itself wrote: generated impressions with an incident narrowed to one item
category (the generator's, so only that category of the slice gets worse), through Kafka, Triton and the
safety-health job into ClickHouse; the command names that category first and significant."""
from __future__ import annotations

import contextlib
import io
import json
from datetime import datetime, timezone

from jobs import safety_health
from riskstream.cli.generator import GeneratorSettings, Incident, generate
from riskstream.cli.main import main
from riskstream.core import schemas
from riskstream.core.job_config import HealthJobSettings
from riskstream.io import kafka_admin, topics
from tests.e2e import kafka_io
from udfs.wire import Encoder, SchemaHistory, WireFormat

START_MS = 1_768_003_200_000  # 2026-01-10T00:00:00Z, a day of its own
JOB = "e2e-explain"
CODEC = Encoder(SchemaHistory.from_folder(schemas.IMPRESSION_HISTORY).latest, WireFormat.SINGLE_OBJECT)


def test_the_category_an_incident_made_worse_is_the_first_cause_of_the_jobs_rows(services, stack, tmp_path):
    kafka = services.kafka
    kafka_admin.ensure_topics(kafka.bootstrap_servers, topics.specs(kafka))
    start = kafka_admin.end_offsets(kafka.bootstrap_servers, kafka.impressions_topic)
    # Five minutes at 100 impressions/s; from minute 3, gaming on home_feed/us shows 8x the unsafe items.
    incident = Incident.parse("surface=home_feed,region=us,start=3,multiplier=8,category=gaming")
    records = [g.record for g in generate(GeneratorSettings(seed=12, count=30_000, rate=100.0, start_ms=START_MS,
                                                            incidents=(incident,)))]
    kafka_io.send(kafka.bootstrap_servers, kafka.impressions_topic,
                  [(r["user_id_hash"].encode(), CODEC.encode(r), r["event_time"]) for r in records])
    safety_health.run(services, HealthJobSettings(bounded=True, start_offsets=start, job_id=JOB,
                                                  checkpoint_dir=tmp_path / "checkpoints"))

    at = datetime.fromtimestamp((START_MS + 5 * 60_000) / 1000, timezone.utc).isoformat()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["explain", "--slice", "surface=home_feed,region=us", "--at", at, "--window-minutes", "2",
                     "--baseline-minutes", "3", "--job-id", JOB, "--state-dir", str(stack.state_dir), "--json"]) == 0
    causes = [json.loads(line) for line in out.getvalue().splitlines()]
    first = causes[0]
    assert (first["rank"], first["cause"], first["significant"]) == (1, "item_category=gaming", True), causes[:3]
    assert first["rate_effect"] > 3 * abs(first["mix_effect"])
    assert first["slice_rate_current"] > first["slice_rate_baseline"]
