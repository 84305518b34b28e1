"""OpenLineage over HTTP: the events reach an endpoint as the OpenLineage API takes them (POST <url>/api/v1/lineage,
one JSON event, the bearer token when one is set); an endpoint that cannot be reached costs a warning naming
it, never the job. No Marquez runs here: the endpoint is a plain HTTP server that keeps what it is sent."""
from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from riskstream.core.config import ClickHouseSettings, Secret
from riskstream.core.job_config import LineageSettings
from riskstream.io.openlineage import LineageRun, RunFacts, clickhouse_dataset, kafka_dataset
from riskstream.io.processes import free_port


@pytest.fixture
def endpoint():
    received: list[tuple[str, dict, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, dict(self.headers), json.loads(body)))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", received
    server.shutdown()


def _run(settings: LineageSettings) -> LineageRun:
    return LineageRun(settings=settings, job_name="job-1", streaming=True,
                      impressions=kafka_dataset("127.0.0.1:9092", "impressions"), other_inputs=[],
                      outputs=[clickhouse_dataset(ClickHouseSettings(url="http://ch.internal:8123"), "safety_health")],
                      engine_version="2.3.0")


FACTS = RunFacts("safety_text", "1", "p1", {0: 5, 1: 0})


def test_events_are_posted_to_the_endpoint_with_the_token(endpoint):
    url, received = endpoint
    run = _run(LineageSettings(url=url, api_key=Secret("t0ken"), namespace="trust-safety"))
    run.start(FACTS)
    run.complete(RunFacts("safety_text", "2", "p1", {0: 5, 1: 0}, {0: 9, 1: 3}))
    run.close()
    assert [path for path, _, _ in received] == ["/api/v1/lineage"] * 2
    assert all(headers["Authorization"] == "Bearer t0ken" for _, headers, _ in received)
    start, complete = (event for _, _, event in received)
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    assert start["run"]["runId"] == complete["run"]["runId"] == run.run_id
    assert complete["job"] == {"namespace": "trust-safety", "name": "job-1", "facets": complete["job"]["facets"]}
    assert complete["outputs"][0]["namespace"] == "clickhouse://ch.internal:8123"
    assert complete["outputs"][0]["name"] == "riskstream.safety_health"
    assert complete["inputs"][0]["inputFacets"]["riskstream_kafkaOffsets"]["partitions"] == [
        {"partition": 0, "startOffset": 5, "endOffset": 9}, {"partition": 1, "startOffset": 0, "endOffset": 3}]
    assert complete["inputs"][0]["inputFacets"]["inputStatistics"]["rowCount"] == 7
    model = complete["run"]["facets"]["riskstream_safetyModel"]
    assert (model["version"], model["versionsSeen"]) == ("2", ["1", "2"])  # a reload between the two events


def test_an_unreachable_endpoint_is_named_in_a_warning_and_stops_nothing(caplog, tmp_path):
    address = f"http://127.0.0.1:{free_port()}"
    run = _run(LineageSettings(url=address, file=tmp_path / "events.jsonl", timeout_s=1.0))
    with caplog.at_level(logging.WARNING, logger="riskstream.io.openlineage"):
        run.start(FACTS)
    assert run.failed_emissions == 1
    assert f"{address}/api/v1/lineage" in caplog.text
    # The file target still got the event.
    assert json.loads((tmp_path / "events.jsonl").read_text())["eventType"] == "START"
