"""Forgetting a viewer and a creator: the requests on their topic, every store erased with a receipt, a replay of
the impressions from offset 0 that never lets them back in, and `forget verify` clean. Impressions, verdicts and
requests on topics of their own, rows in a database of its own."""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import io
import json
import time
import uuid
from pathlib import Path

import pytest

from jobs import runtime, safety_health
from riskstream.cli.generator import GeneratorSettings, generate
from riskstream.cli.main import main
from riskstream.core import schemas
from riskstream.core.job_config import HealthJobSettings
from riskstream.io import clickhouse, erasure, flink_rest, kafka_admin, topic_records, topics
from tests.e2e import kafka_io, stream
from udfs import forget
from udfs.forget import ForgetRequest
from udfs.wire import AvroDecoder, Encoder, SchemaHistory, WireFormat

START_MS = 1_772_323_200_000  # 2026-03-01T00:00:00Z
DATABASE = "riskstream_forget_test"
CODEC = Encoder(SchemaHistory.from_folder(schemas.IMPRESSION_HISTORY).latest, WireFormat.SINGLE_OBJECT)
LABELS = Encoder(SchemaHistory.from_folder(schemas.MODERATION_LABEL_HISTORY).latest, WireFormat.SINGLE_OBJECT)
MINUTE = 60_000


@dataclasses.dataclass
class World:
    services: object
    records: list[dict]
    client: object
    args: list[str]
    tmp: object


@pytest.fixture(scope="module")
def world(services, stack, tmp_path_factory):
    suffix = uuid.uuid4().hex[:8]
    kafka = dataclasses.replace(
        services.kafka, impressions_topic=f"forget-impressions-{suffix}", dead_letter_topic=f"forget-dlq-{suffix}",
        item_verdicts_topic=f"forget-verdicts-{suffix}", breaker_state_topic=f"forget-breakers-{suffix}",
        moderation_labels_topic=f"forget-labels-{suffix}", forget_requests_topic=f"forget-requests-{suffix}")
    mine = dataclasses.replace(services, kafka=kafka,
                               clickhouse=dataclasses.replace(services.clickhouse, database=DATABASE))
    kafka_admin.ensure_topics(kafka.bootstrap_servers, topics.specs(kafka))
    # Four minutes at 50 impressions/s.
    records = [g.record for g in generate(GeneratorSettings(seed=29, count=12_000, rate=50.0, start_ms=START_MS))]
    kafka_io.send(kafka.bootstrap_servers, kafka.impressions_topic,
                  [(r["user_id_hash"].encode(), CODEC.encode(r), r["event_time"]) for r in records])
    tmp = tmp_path_factory.mktemp("forget")
    safety_health.run(mine, HealthJobSettings(bounded=True, start_offsets={p: 0 for p in range(kafka.partitions)},
                                              job_id="forget-before", checkpoint_dir=tmp / "before"))
    args = ["--state-dir", str(stack.state_dir), "--clickhouse-database", DATABASE,
            "--impressions-topic", kafka.impressions_topic, "--dead-letter-topic", kafka.dead_letter_topic,
            "--item-verdicts-topic", kafka.item_verdicts_topic, "--breaker-state-topic", kafka.breaker_state_topic,
            "--moderation-labels-topic", kafka.moderation_labels_topic,
            "--forget-requests-topic", kafka.forget_requests_topic]
    client = clickhouse.connect(mine.clickhouse, database=DATABASE)
    try:
        yield World(mine, records, client, args, tmp)
    finally:
        client.command(f"DROP DATABASE IF EXISTS {DATABASE}")
        client.close()


def _cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


def test_forgotten_subjects_leave_every_store_and_a_replay_from_offset_zero_never_brings_them_back(world):
    records, client, kafka = world.records, world.client, world.services.kafka
    viewer = collections.Counter(r["user_id_hash"] for r in records).most_common(1)[0][0]
    # The creator whose items the job's top-unsafe lists name most often (the reference: the input's own
    # item -> creator pairs, not the verdicts the command reads).
    creator_of = {r["item_id"]: r["creator_id"] for r in records}
    listed = [item for (items,) in client.query("SELECT top_unsafe_items.item_id FROM safety_health "
                                                 "WHERE job_id = 'forget-before'").result_rows for item in items]
    creator = collections.Counter(creator_of[i] for i in listed).most_common(1)[0][0]
    their_items = sorted({r["item_id"] for r in records if r["creator_id"] == creator})
    before = {t: n for t, n in erasure.scan(client, [creator, *their_items]).items() if n}
    assert before.get("safety_health", 0) > 0

    code, out = _cli("forget", "--creator", creator, "--reason", "erasure request T-1", "--json", *world.args)
    receipt = json.loads(out)
    assert code == 0 and receipt["kind"] == "creator" and creator not in out
    assert receipt["clickhouse_rows"] == before
    assert 0 < receipt["items"] <= len(their_items)  # the items the job had judged (those with a verdict)
    assert receipt["tombstones"] == {kafka.item_verdicts_topic: receipt["items"]}
    code, out = _cli("forget", "--user", viewer, "--reason", "erasure request T-2", "--json", *world.args)
    viewer_receipt = json.loads(out)
    assert code == 0 and viewer_receipt["clickhouse_rows"] == {}  # no table held a viewer id

    ids = [creator, *their_items, viewer]
    assert erasure.scan(client, ids) == dict.fromkeys(erasure.tables(client), 0)
    verdicts = topic_records.newest_per_key(kafka.bootstrap_servers, kafka.item_verdicts_topic)
    assert not [i for i in their_items if verdicts.get(i.encode()) is not None]
    assert any(v is not None for v in verdicts.values())  # the other creators' verdicts stay

    # A replay from offset 0 after the requests: their records are dropped at decode.
    safety_health.run(world.services, HealthJobSettings(
        bounded=True, start_offsets={p: 0 for p in range(kafka.partitions)}, job_id="forget-replay",
        checkpoint_dir=world.tmp / "replay"))
    reference = collections.Counter(
        (r["event_time"] // MINUTE * MINUTE, r["surface"], r["region"], r["recommender_model_version"],
         r["item_category"]) for r in records if r["user_id_hash"] != viewer and r["creator_id"] != creator)
    rows = client.query("SELECT toUnixTimestamp64Milli(window_start), surface, region, recommender_model_version, "
                        "item_category, impressions FROM safety_health FINAL WHERE job_id = 'forget-replay' "
                        "AND window_seconds = 60").result_rows
    assert {tuple(r[:5]): r[5] for r in rows} == dict(reference)
    assert sum(reference.values()) < len(records) - 20  # the subjects had records to drop
    assert erasure.scan(client, ids) == dict.fromkeys(erasure.tables(client), 0)
    verdicts = topic_records.newest_per_key(kafka.bootstrap_servers, kafka.item_verdicts_topic)
    assert not [i for i in their_items if verdicts.get(i.encode()) is not None]

    for request in (receipt["request_id"], viewer_receipt["request_id"]):
        code, out = _cli("forget", "verify", request, "--json", *world.args)
        places = [json.loads(line) for line in out.splitlines()]
        assert code == 0 and all(p["clean"] for p in places), out
        raw = {p["where"]: p for p in places if p["store"] == "kafka (raw)"}
        assert raw[kafka.impressions_topic]["found"] > 0  # the raw topic keeps them until its retention
    audited = client.query("SELECT subject, evidence FROM audit_log FINAL WHERE kind = 'forget'").result_rows
    assert {s for s, _ in audited} == {receipt["request_id"], viewer_receipt["request_id"]}
    assert not [e for _, e in audited if creator in e or viewer in e]


def test_a_running_job_writes_no_item_of_a_creator_forgotten_while_its_windows_were_open(services, tmp_path):
    """A window open when the request arrives still holds the creator's unsafe impression: the row it is written
    with afterwards leaves the creator's item out of its top list, though the list had room for every unsafe item."""
    live, suffix = stream.own_topics(services, "forget-live", "impressions_topic", "item_verdicts_topic",
                                     "forget_requests_topic", "breaker_state_topic")
    kafka = live.kafka
    job_id = f"forget-live-{suffix}"
    base = int(time.time() * 1000) // MINUTE * MINUTE - 3 * MINUTE
    before = stream.records(51, 1200, base, rate=10.0)  # two minutes
    started = stream.start_from_first_offsets(live, job_id, tmp_path)
    try:
        stream.send(live, before)
        stream.wait_processed(live, job_id)
        time.sleep(3)  # a checkpoint: the verdicts are on their topic
        # An item the model found unsafe in the last minute, whose window the watermark has not closed.
        history = SchemaHistory.from_folder(schemas.VERDICT_HISTORY)
        decoder = AvroDecoder(history.latest, history)
        unsafe = sorted((int(v["event_time"]), v["item_id"], v["creator_id"]) for v in (  # epoch ms
            decoder.decode(value) for value in topic_records.newest_per_key(
                kafka.bootstrap_servers, kafka.item_verdicts_topic).values() if value is not None)
            if v["action"] != "allow")
        event_ms, item, creator = [u for u in unsafe if u[0] >= base + MINUTE][-1]
        [record] = [r for r in before if (r["event_time"], r["item_id"]) == (event_ms, item)]
        items = tuple(sorted({r["item_id"] for r in before if r["creator_id"] == creator}))
        request = ForgetRequest(uuid.uuid4().hex, "creator", creator, int(time.time() * 1000), "e2e", "T-3", items)
        topic_records.write(kafka.bootstrap_servers, kafka.forget_requests_topic, [forget.encode(request)])
        time.sleep(5)  # the operators' feeds read it within about a second
        stream.send(live, stream.records(52, 1200, base + 2 * MINUTE, rate=10.0))  # the open windows close
        stream.wait_processed(live, job_id)
    finally:
        runtime.drain(started.client, tmp_path / "savepoints")
    client = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    try:
        [(unsafe_count, listed, written_ms)] = client.query(
            "SELECT unsafe, top_unsafe_items.item_id, toUnixTimestamp64Milli(written_at) FROM safety_health FINAL "
            "WHERE job_id = {job:String} AND window_seconds = 60 AND window_start = fromUnixTimestamp64Milli("
            "{start:Int64}, 'UTC') AND surface = {s:String} AND region = {r:String} AND "
            "recommender_model_version = {v:String} AND item_category = {c:String}",
            parameters={"job": job_id, "start": event_ms // MINUTE * MINUTE, "s": record["surface"],
                        "r": record["region"], "v": record["recommender_model_version"],
                        "c": record["item_category"]}).result_rows
        assert written_ms > request.requested_at_ms  # written after the request...
        assert 1 <= unsafe_count <= 10  # ...with room in its top list for every unsafe item, the creator's too
        assert item not in listed
        named = client.query("SELECT count() FROM safety_health WHERE job_id = {job:String} AND written_at > "
                             "fromUnixTimestamp64Milli({at:Int64}, 'UTC') AND hasAny(top_unsafe_items.item_id, "
                             "{items:Array(String)})",
                             parameters={"job": job_id, "at": request.requested_at_ms + 4_000,
                                         "items": list(items)}).result_rows
        assert named == [(0,)]
    finally:
        client.close()


def test_the_label_join_drops_a_forgotten_creators_labels_and_keeps_everyone_elses(services, tmp_path):
    """Labels of a forgotten creator's items leave with them: with the request on its topic before the job reads
    the labels, no label outcome names their items, every other label has its outcome, and their impressions
    are in no window."""
    from riskstream.cli.generator import LabelSampling

    mine, suffix = stream.own_topics(services, "forget-labels", "impressions_topic", "dead_letter_topic",
                                     "item_verdicts_topic", "breaker_state_topic", "moderation_labels_topic",
                                     "forget_requests_topic")
    kafka = mine.kafka
    start_ms = (int(time.time() * 1000) // MINUTE - 60) * MINUTE  # recent: labels are kept by label time
    generated = list(generate(GeneratorSettings(seed=33, count=3_000, rate=50.0, start_ms=start_ms,
                                                labels=LabelSampling(share=0.3))))
    records = [g.record for g in generated]
    labels = [g.moderation_label for g in generated if g.moderation_label]
    owner = {r["item_id"]: r["creator_id"] for r in records}
    [(creator, _)] = collections.Counter(owner[label["item_id"]] for label in labels).most_common(1)
    items = tuple(sorted({r["item_id"] for r in records if r["creator_id"] == creator}))
    topic_records.write(kafka.bootstrap_servers, kafka.forget_requests_topic, [forget.encode(ForgetRequest(
        uuid.uuid4().hex, "creator", creator, int(time.time() * 1000), "e2e", "T-4", items))])
    kafka_io.send(kafka.bootstrap_servers, kafka.impressions_topic,
                  [(r["user_id_hash"].encode(), CODEC.encode(r), r["event_time"]) for r in records])
    kafka_io.send(kafka.bootstrap_servers, kafka.moderation_labels_topic,
                  [(label["item_id"].encode(), LABELS.encode(label), label["labeled_at"]) for label in labels])
    job_id = f"forget-labels-{suffix}"
    everywhere = {p: 0 for p in range(kafka.partitions)}
    safety_health.run(mine, HealthJobSettings(bounded=True, start_offsets=everywhere, label_join=True,
                                              label_start_offsets=everywhere, job_id=job_id,
                                              checkpoint_dir=tmp_path / "cp"))
    client = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    try:
        outcomes = client.query("SELECT DISTINCT label_id, item_id FROM label_outcomes FINAL WHERE job_id = {j:String}",
                                parameters={"j": job_id}).result_rows
        [(impressions,)] = client.query("SELECT sum(impressions) FROM safety_health FINAL WHERE job_id = {j:String} "
                                        "AND window_seconds = 60", parameters={"j": job_id}).result_rows
    finally:
        client.close()
    kept = {label["label_id"] for label in labels if label["item_id"] not in items}
    assert len(kept) < len(labels)  # the creator had labelled items...
    assert {label_id for label_id, _ in outcomes} == kept  # ...whose labels left; everyone else's stayed
    assert not {item for _, item in outcomes} & set(items)
    assert impressions == sum(r["creator_id"] != creator for r in records)


def test_forget_verify_finds_a_creator_in_the_state_of_a_savepoint_taken_while_their_windows_were_open(
        services, stack, tmp_path):
    """A job stopped (not drained) mid-stream keeps its open windows in its savepoint, and with them the ids of
    the creators they counted: `forget verify` names that savepoint, within the bound the receipt promised, and
    finds nothing there for an id the job never saw."""
    mine, suffix = stream.own_topics(services, "forget-state", "impressions_topic", "item_verdicts_topic",
                                     "forget_requests_topic", "breaker_state_topic")
    kafka = mine.kafka
    base = int(time.time() * 1000) // MINUTE * MINUTE - 2 * MINUTE
    records = stream.records(53, 600, base, rate=10.0)  # one minute: its windows stay open
    job_id = f"forget-state-{suffix}"
    started = stream.start_from_first_offsets(mine, job_id, tmp_path / "cp")
    try:
        stream.send(mine, records)
        stream.wait_processed(mine, job_id)
    finally:
        savepoint = runtime.stop(started.client, tmp_path / "savepoints", drain=False)
    creator = records[-1]["creator_id"]
    requests = {who: ForgetRequest(uuid.uuid4().hex, "creator", who, int(time.time() * 1000), "e2e", "T-5")
                for who in (creator, f"creator-never-seen-{suffix}")}
    topic_records.write(kafka.bootstrap_servers, kafka.forget_requests_topic,
                        [forget.encode(r) for r in requests.values()])
    args = ["--state-dir", str(stack.state_dir), "--impressions-topic", kafka.impressions_topic,
            "--item-verdicts-topic", kafka.item_verdicts_topic, "--forget-requests-topic", kafka.forget_requests_topic,
            "--savepoint-dir", str(tmp_path / "savepoints"), "--checkpoint-dir", str(tmp_path / "cp"), "--json"]
    places = {}
    for who, request in requests.items():
        _, out = _cli("forget", "verify", request.request_id, *args)
        places[who] = [json.loads(line) for line in out.splitlines() if json.loads(line)["store"] == "flink"]
    held = {Path(p["where"]): p for p in places[creator] if p["found"]}
    assert flink_rest.location_path(savepoint).resolve() in {path.resolve() for path in held}
    assert all(p["clean"] and p["aged_out_by"] > requests[creator].requested_at_ms for p in held.values())
    assert [p["found"] for p in places[f"creator-never-seen-{suffix}"]] == [0, 0]
