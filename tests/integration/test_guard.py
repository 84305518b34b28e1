"""The guard service, as a process on a real broker of its own: decisions in every breaker state, a policy
taking effect while it runs (a malformed one ignored), restore after a restart, and the fail modes while
Kafka is down and after it is back."""
from __future__ import annotations

import dataclasses
import time

import pytest
import requests

from riskstream.cli import policy_store
from riskstream.core import schemas
from riskstream.core.config import KafkaSettings, StackSettings
from riskstream.io import kafka_admin, policy_topic, processes, topics
from riskstream.stack import guard, kafka, process
from tests.e2e import kafka_io
from udfs.policy import KillSwitch, Policy
from udfs.wire import Encoder, SchemaHistory, WireFormat

VERSION = "recsys-2026.10"
# item -> (action, unsafe categories) written to item-verdicts; "i-unknown" gets none.
VERDICTS = {"i-allow": ("allow", []), "i-demote": ("demote", ["spam"]), "i-block": ("block", ["hate"])}
ITEMS = ["i-allow", "i-demote", "i-block", "i-unknown"]
# (surface, region) -> the breaker's transitions, oldest first: the newest is its state.
BREAKERS = {("shorts", "br"): ["open"], ("shorts", "us"): ["open", "half_open"], ("feed", "br"): ["open", "half_open",
                                                                                                   "closed"]}
# The README's decision table, per breaker state: decisions for ITEMS in order.
EXPECTED = {"closed": ["serve", "demote", "drop", "serve"], "half_open": ["serve", "drop", "drop", "demote"],
            "open": ["serve", "drop", "drop", "drop"]}


def _encoder(folder) -> Encoder:
    return Encoder(SchemaHistory.from_folder(folder).latest, WireFormat.SINGLE_OBJECT)


def _write_view(settings: KafkaSettings) -> None:
    verdicts = _encoder(schemas.VERDICT_HISTORY)
    kafka_io.send(settings.bootstrap_servers, settings.item_verdicts_topic, [
        (item.encode(), verdicts.encode({
            "item_id": item, "action": action, "reason": f"test {action}", "top_category": "spam", "top_score": 0.5,
            "unsafe_categories": unsafe, "item_category": "news", "policy_version": "p-test",
            "model_name": "safety_text", "model_version": "1", "event_time": 0, "source_partition": 0,
            "source_offset": n, "job_id": "test"}), 1_000) for n, (item, (action, unsafe)) in enumerate(VERDICTS.items())])
    breakers = _encoder(schemas.BREAKER_HISTORY)
    messages = []
    for (surface, region), states in BREAKERS.items():
        for minute, (before, after) in enumerate(zip(["closed"] + states, states)):
            messages.append((f"{surface}/{region}".encode(), breakers.encode({
                "surface": surface, "region": region, "recommender_model_version": VERSION, "state": after,
                "from_state": before, "window_start": minute * 60_000, "window_end": (minute + 1) * 60_000,
                "scored": 100, "unsafe": 30, "rate": 0.3, "baseline_rate": 0.1, "z": 5.0, "reason": "test",
                "policy_version": "p-test", "job_id": "test"}), 1_000))
    kafka_io.send(settings.bootstrap_servers, settings.breaker_state_topic, messages)


def _decide(address: str, surface: str, region: str, items=ITEMS) -> dict:
    response = requests.post(f"{address}/v1/decide", json={
        "surface": surface, "region": region, "recommender_model_version": VERSION, "items": items}, timeout=5)
    response.raise_for_status()
    return response.json()


def _decisions(address: str, surface: str, region: str) -> list[str]:
    return [d["decision"] for d in _decide(address, surface, region)["decisions"]]


def _state(address: str) -> dict:
    return requests.get(f"{address}/v1/state", timeout=5).json()


def _until(check, timeout_s: float = 60.0, what: str = ""):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout_s} s: {what}")


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """A broker of its own: this module stops it, which the session's stack must never see."""
    settings = StackSettings(state_dir=tmp_path_factory.mktemp("guard-kafka"), kafka_port=0, kafka_controller_port=0)
    running = {"kafka": kafka.start(settings, None)}
    yield settings, running
    process.terminate(running["kafka"].pid, grace_s=10)


def test_the_guard_decides_restores_takes_policies_live_and_fails_open_or_closed_while_kafka_is_down(
        broker, tmp_path):
    stack, running = broker
    record = running["kafka"]
    settings = KafkaSettings(bootstrap_servers=record.address, partitions=3)
    kafka_admin.ensure_topics(settings.bootstrap_servers, topics.specs(settings))
    _write_view(settings)
    args = ("--fail-modes", "*=open,kids=closed", "--max-staleness-s", "2")
    pid, address = guard.spawn(settings.bootstrap_servers, processes.free_port(), tmp_path / "guard.log", args)
    try:
        # Every breaker state, and a slice with no breaker record (closed).
        assert _decisions(address, "shorts", "br") == EXPECTED["open"]
        assert _decisions(address, "shorts", "us") == EXPECTED["half_open"]
        assert _decisions(address, "feed", "br") == EXPECTED["closed"]
        assert _decisions(address, "kids", "br") == EXPECTED["closed"]
        answer = _decide(address, "shorts", "br")
        assert answer["breaker"]["state"] == "open" and answer["breaker"]["since_ms"] == 60_000
        assert answer["decisions"][1] == {"item_id": "i-demote", "decision": "drop", "rule": "breaker_open",
                                          "verdict": "demote"}
        explained = requests.post(f"{address}/v1/decide", json={
            "surface": "shorts", "region": "br", "items": ["i-demote"], "explain": True}, timeout=5).json()
        assert explained["decisions"][0]["evidence"] == {
            "action": "demote", "reason": "test demote", "unsafe_categories": ["spam"], "policy_version": "p-test",
            "model_version": "1"}
        bad = requests.post(f"{address}/v1/decide", json={"surface": "shorts", "items": "i-1"}, timeout=5)
        assert bad.status_code == 422 and {e["loc"][0] for e in bad.json()["detail"]} == {"region", "items"}

        # A policy published while it runs takes effect; a malformed record forced onto the topic does not.
        policy_store.publish(settings, Policy("p-kill", {"spam": 0.5, "hate": 0.5},
                                              kill_switches=(KillSwitch(surface="feed", category="spam"),)),
                             author="test", reason="kill spam on feed")
        answer = _until(lambda: (a := _decide(address, "feed", "br"))["policy_version"] == "p-kill" and a,
                        what="the published policy in force")
        assert [d["decision"] for d in answer["decisions"]] == ["serve", "drop", "drop", "serve"]
        assert answer["decisions"][1]["rule"] == "kill_switch"
        assert answer["kill_switches"] == ["surface feed, category spam"]
        policy_topic.append(settings, b"bad@1", b"\x00not a policy", 2_000)
        _until(lambda: _state(address)["policies_rejected"] == 1, what="the malformed policy seen")
        assert _decide(address, "feed", "br")["policy_version"] == "p-kill"

        # A restart restores the whole view from the topics.
        process.terminate(pid)
        pid, address = guard.spawn(settings.bootstrap_servers, processes.free_port(), tmp_path / "guard2.log", args)
        assert _decisions(address, "shorts", "br") == EXPECTED["open"]
        assert _decisions(address, "shorts", "us") == EXPECTED["half_open"]
        assert _decide(address, "feed", "br")["policy_version"] == "p-kill"
        assert _state(address)["items_known"] == len(VERDICTS)

        # Kafka stops: the view goes stale, and each surface fails as configured.
        process.terminate(record.pid, grace_s=10)
        _until(lambda: _state(address)["stale"], 30, "a stale view with Kafka down")
        stale = _decide(address, "shorts", "br")
        assert stale["stale"] and stale["fail_mode"] == "open"
        assert [d["decision"] for d in stale["decisions"]] == EXPECTED["closed"]  # as if no breaker were open
        closed = _decide(address, "kids", "br")
        assert closed["fail_mode"] == "closed" and [d["decision"] for d in closed["decisions"]] == [
            "serve", "drop", "drop", "drop"]
        assert requests.get(f"{address}/healthz", timeout=5).status_code == 200

        # Kafka back (same ports and data): the view is fresh again and the breakers decide.
        running["kafka"] = kafka.start(dataclasses.replace(stack, kafka_port=int(record.details["port"]),
                                                    kafka_controller_port=int(record.details["controller_port"])),
                                record)
        _until(lambda: not _state(address)["stale"], 60, "a fresh view with Kafka back")
        assert _decisions(address, "shorts", "br") == EXPECTED["open"]
        metrics = requests.get(f"{address}/metrics", timeout=5).text
        assert 'riskstream_guard_stale_answers_total{fail_mode="closed"} 1.0' in metrics
        assert "riskstream_guard_items_known 3.0" in metrics
    finally:
        process.terminate(pid)
