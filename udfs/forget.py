"""Who is forgotten: requests on the forget-requests topic, and the test the job applies at decode. Pure logic.

A request is an Avro record of `schemas/forget_request/` in the single-object encoding, keyed `kind:id`
on a compacted topic, so the topic keeps one request per forgotten subject for as long as the project
runs: it is the suppression list every reader of the raw topics applies, on a replay of old offsets too.
"""
from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

from riskstream.core import schemas
from riskstream.core.errors import ConfigError
from riskstream.core.rows import ID_CHARACTERS
from udfs.wire import AvroDecoder, Encoder, SchemaHistory, WireFormat

KINDS = ("viewer", "creator")
# Ids as producers write them (hashed viewer ids, creator ids): printable, no separators of our own.
ID_PATTERN = re.compile(f"[A-Za-z0-9][{ID_CHARACTERS}]{{0,255}}")


@dataclass(frozen=True)
class ForgetRequest:
    request_id: str
    kind: str  # viewer (the impression's user_id_hash) | creator (its creator_id)
    subject_id: str
    requested_at_ms: int
    requested_by: str
    reason: str
    items: tuple[str, ...] = ()  # a creator's content ids known when the request was made

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"kind: {self.kind!r} is not one of {', '.join(KINDS)}")
        if not ID_PATTERN.fullmatch(self.subject_id):
            raise ConfigError(f"subject id {self.subject_id!r}: not an id a producer writes "
                              f"(letters, digits and _.:@/+=-, at most 256)")
        if not self.reason.strip():
            raise ConfigError("reason: say why (the request and its receipt are audited)")

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.subject_id}"


@functools.lru_cache(maxsize=1)
def codec() -> tuple[Encoder, AvroDecoder]:
    history = SchemaHistory.from_folder(schemas.FORGET_REQUEST_HISTORY)
    return Encoder(history.latest, WireFormat.SINGLE_OBJECT), AvroDecoder(history.latest, history)


def encode(request: ForgetRequest) -> tuple[bytes, bytes]:
    """(key, value) of the request's record."""
    value = codec()[0].encode({"request_id": request.request_id, "kind": request.kind,
                               "subject_id": request.subject_id, "requested_at": request.requested_at_ms,
                               "requested_by": request.requested_by, "reason": request.reason,
                               "items": list(request.items)})
    return request.key.encode("utf-8"), value


def decode(value: bytes) -> ForgetRequest:
    record = codec()[1].decode(value)
    return ForgetRequest(record["request_id"], record["kind"], record["subject_id"],
                         int(record["requested_at"].timestamp() * 1000), record["requested_by"], record["reason"],
                         tuple(record["items"]))


class Forgotten:
    """The viewers and creators whose records the job drops, from every request read so far."""

    def __init__(self) -> None:
        self.viewers: set[str] = set()
        self.creators: set[str] = set()
        self.items: set[str] = set()  # a forgotten creator's content: their labels are dropped too
        self.skipped = 0  # records on the topic that are not requests (another writer's): counted, not applied

    def add(self, key: bytes | None, value: bytes | None) -> None:
        """One record of the topic. A tombstone withdraws nothing: forgetting cannot be undone."""
        if value is None:
            return
        try:
            request = decode(value)
        except Exception:  # noqa: BLE001 - whatever another writer put there must not stop the job
            self.skipped += 1
            return
        (self.viewers if request.kind == "viewer" else self.creators).add(request.subject_id)
        self.items.update(request.items)

    def holds(self, viewer_id: str | None, creator_id: str | None) -> bool:
        return viewer_id in self.viewers or creator_id in self.creators

    def __bool__(self) -> bool:
        return bool(self.viewers or self.creators)


def subject_hash(subject_id: str) -> str:
    """How receipts and the audit trail name a subject: never the id itself."""
    return hashlib.sha256(subject_id.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Receipt:
    """What `riskstream forget` did, for the audit trail and the requester."""

    request_id: str
    kind: str
    subject_sha256: str
    requested_at_ms: int
    items: int                           # a creator's content ids erased with them
    clickhouse_rows: dict[str, int]      # table -> rows that named the subject or its items: rewritten or deleted
    tombstones: dict[str, int]           # compacted topic -> keys given a tombstone
    raw_topics_aged_out_by: dict[str, int | None]  # topic -> when retention has removed records written before the request (None: kept forever)
    flink_state_aged_out_by: int         # when no state or retained savepoint can hold what the job held before the request


def aged_out_by(requested_at_ms: int, retention_ms: int) -> int | None:
    return None if retention_ms < 0 else requested_at_ms + retention_ms
