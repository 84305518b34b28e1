"""The demo's control-plane part: what the guard told the recommender as the incident came and went, a
policy published mid-run (and rolled back after), and the breakers' transitions."""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace

import requests

from riskstream.cli import policy_store
from riskstream.core.config import KafkaSettings
from udfs.policy import KillSwitch, Policy

CANDIDATES = 50  # item ids per watched slice, drawn from the demo's own stream


@dataclass
class GuardWatch:
    """Asks the guard every second about a few slices and keeps each change of what it answered."""

    url: str
    candidates: dict[tuple[str, str], list[str]]  # (surface, region) -> item ids
    changes: list[str] = field(default_factory=list)
    _last: dict = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._began = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="guard-watch", daemon=True)
        self._thread.start()

    def stop(self) -> list[str]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        return self.changes

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.wait(1.0):
            for (surface, region), items in self.candidates.items():
                try:
                    answer = session.post(f"{self.url}/v1/decide", json={
                        "surface": surface, "region": region, "items": items}, timeout=2).json()
                    answer["decisions"][0]["rule"]  # noqa: B018 - an answer of this API, or an error below
                except (requests.RequestException, ValueError, KeyError, IndexError, TypeError) as exc:
                    answer = {"error": f"{type(exc).__name__}: {exc}"}
                self._note(surface, region, answer)

    def _note(self, surface: str, region: str, answer: dict) -> None:
        if "error" in answer:
            summary = f"guard not answering ({answer['error']})"
        else:
            counts = Counter(d["decision"] for d in answer["decisions"])
            rules = Counter(d["rule"] for d in answer["decisions"] if d["decision"] != "serve")
            summary = (f"breaker {answer['breaker']['state']:<9} policy {answer['policy_version']}: "
                       f"{len(answer['decisions'])} candidates -> "
                       + ", ".join(f"{counts[d]} {d}" for d in ("serve", "demote", "drop"))
                       + (f" ({', '.join(f'{n} by {r}' for r, n in sorted(rules.items()))})" if rules else ""))
        if self._last.get((surface, region)) != summary:
            self._last[(surface, region)] = summary
            self.changes.append(f"+{time.monotonic() - self._began:4.0f}s  {surface}/{region}  {summary}")


def candidates(records: list[dict], slices: list[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
    """The first distinct item ids the stream serves on each slice."""
    found: dict[tuple[str, str], list[str]] = {s: [] for s in slices}
    for record in records:
        items = found.get((record["surface"], record["region"]))
        if items is not None and len(items) < CANDIDATES and record["item_id"] not in items:
            items.append(record["item_id"])
    return found


class MidRunPolicy:
    """Publishes the active policy plus a kill switch after `delay_s`; `rollback()` restores the one before."""

    def __init__(self, kafka: KafkaSettings, delay_s: float, switch: KillSwitch):
        self.kafka = kafka
        self.switch = switch
        self.before: Policy | None = None
        self.published: Policy | None = None
        self._timer = threading.Timer(delay_s, self._publish)

    def start(self) -> None:
        from udfs import policy_log

        self.before = policy_log.active(policy_store.history(self.kafka))
        self._timer.start()

    def _publish(self) -> None:
        candidate = replace(self.before, version=f"{self.before.version}+demo-kill-{int(time.time())}",
                            kill_switches=(*self.before.kill_switches, self.switch))
        self.published = policy_store.publish(self.kafka, candidate, author="riskstream demo",
                                              reason="demo: a kill switch published while the job runs").policy

    def rollback(self) -> None:
        self._timer.cancel()
        if self.published is not None:
            policy_store.rollback(self.kafka, self.before.version, author="riskstream demo",
                                  reason="demo over: back to the policy in force before it")


WATCH_CONTROL = ("home_feed", "us")  # a quiet slice, for contrast
KILLED = ("search", "eu")  # the slice the mid-run policy's kill switch names


def start(stack, kafka: KafkaSettings, generator, speedup: float) -> tuple[GuardWatch, MidRunPolicy]:
    """Watch the incident's slices and two others through the guard, and publish a kill switch halfway."""
    from riskstream.cli.generator import generate
    from riskstream.io import stack_state as state

    slices = [(i.surface, i.region) for i in generator.incidents] + [WATCH_CONTROL, KILLED]
    watch = GuardWatch(state.addresses(stack.state_dir)["guard"],
                       candidates([g.record for g in generate(generator)], list(dict.fromkeys(slices))))
    mid_run = MidRunPolicy(kafka, generator.count / generator.rate / speedup / 2,
                           KillSwitch(surface=KILLED[0], region=KILLED[1]))
    watch.start()
    mid_run.start()
    return watch, mid_run


def breaker_moves(client, job_id: str, start_ms: int) -> list[tuple]:
    """(surface, region, recommender version, minute into the stream, from, to, reason) of the job's moves."""
    return [tuple(row) for row in client.query(
        "SELECT surface, region, recommender_model_version, intDiv(toUnixTimestamp64Milli(window_start) - "
        "{start:Int64}, 60000) AS minute, from_state, to_state, reason FROM breaker_transitions FINAL "
        "WHERE job_id = {job:String} ORDER BY surface, region, recommender_model_version, window_start",
        parameters={"job": job_id, "start": start_ms}).result_rows]


def check_breakers(moves: list[tuple], incidents) -> int:
    """0 when the incidents' slices opened and no other slice moved; says which way it failed otherwise."""
    incident_slices = {(i.surface, i.region) for i in incidents}
    strays = sorted({(m[0], m[1]) for m in moves} - incident_slices)
    unopened = sorted(s for s in incident_slices if not any((m[0], m[1]) == s and m[5] == "open" for m in moves))
    if strays or unopened:
        print(f"riskstream: error: breakers moved on slices without an incident: {strays}; incident slices that "
              f"never opened: {unopened}")
        return 1
    closed = [s for s in incident_slices if any((m[0], m[1]) == s and m[5] == "closed" for m in moves)]
    print(f"== breakers: {len(incident_slices)} incident slice(s) opened, {len(closed)} closed again after it, "
          f"no other slice moved")
    return 0
