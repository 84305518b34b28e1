"""The rows a job writes to ClickHouse, typed in Flink's own type system.

Every ClickHouse-bound stream carries one `SINK_ROW`: the table's name and that table's row in its own
field (the others null), each a Flink ROW whose fields are the table's insertable columns in order, with
Flink types that ClickHouse's accept (tests/integration/test_sink_rows.py checks them against the migrations).
Flink serialises and checkpoints them by type, so the writer's pending rows are typed state that
Flink's tools can read, and a value of the wrong type fails where it is produced, naming nothing
ClickHouse-specific. Times are epoch milliseconds (DateTime64(3) takes them as they are).
"""
from __future__ import annotations

from pyflink.common import Row, Types
from pyflink.common.typeinfo import ObjectArrayTypeInfo, TypeInformation

from udfs.audit import COLUMNS as AUDIT_COLUMNS
from udfs.breakers import TRANSITION_COLUMNS
from udfs.health import HEALTH_COLUMNS
from udfs.labels import OUTCOME_COLUMNS
from udfs.shadow import SHADOW_COLUMNS
from riskstream.core.rows import DIMENSIONS

LONG, DOUBLE, STRING, BOOLEAN = Types.LONG(), Types.DOUBLE(), Types.STRING(), Types.BOOLEAN()
DIMENSION_TYPES = [STRING] * len(DIMENSIONS)
WINDOW = [LONG, LONG, LONG]  # window_start, window_end (epoch ms), window_seconds
COHORT_MAPS = [Types.MAP(STRING, LONG), Types.MAP(STRING, LONG), Types.MAP(STRING, DOUBLE)]  # scored, unsafe, harm


def _row(columns: tuple[str, ...], types: list[TypeInformation]) -> TypeInformation:
    if len(columns) != len(types):
        raise ValueError(f"{len(columns)} columns but {len(types)} types: {columns}")
    return Types.ROW_NAMED(list(columns), types)


def _array_of(names: list[str], types: list[TypeInformation]) -> TypeInformation:
    return Types.OBJECT_ARRAY(Types.ROW_NAMED(names, types))


DEAD_LETTER_COLUMNS = ("source_topic", "source_partition", "source_offset", "source_timestamp", "error_class",
                       "error_message", "payload_bytes", "payload_sha256", "payload_truncated", "schema_ref", "job_id")
LATE_COLUMNS = ("source_partition", "source_offset", "event_id", "event_time", "window_start", "watermark",
                *DIMENSIONS, "job_id")
SMOKE_COLUMNS = ("window_start", "surface", "impressions", "scored", "unsafe", "model_name", "model_version",
                 "job_id")

TABLES: dict[str, TypeInformation] = {
    "safety_health": _row(HEALTH_COLUMNS, [
        *WINDOW, LONG, *DIMENSION_TYPES, LONG, LONG, LONG, LONG, Types.MAP(STRING, LONG), DOUBLE,
        Types.MAP(STRING, DOUBLE), *COHORT_MAPS, *COHORT_MAPS, DOUBLE, DOUBLE, DOUBLE, Types.MAP(Types.INT(), LONG),
        LONG, LONG,
        _array_of(["item_id", "unsafe_impressions", "max_score"], [STRING, LONG, DOUBLE]),
        _array_of(["partition", "first_offset", "last_offset"], [LONG, LONG, LONG]),
        STRING, STRING, STRING, Types.MAP(STRING, LONG), STRING, LONG]),
    "shadow_health": _row(SHADOW_COLUMNS, [
        *WINDOW, *DIMENSION_TYPES, STRING, STRING, LONG, LONG, LONG, LONG, LONG,
        _array_of(["item_id", "impressions"], [STRING, LONG]), STRING, STRING, LONG]),
    "late_events": _row(LATE_COLUMNS, [LONG, LONG, STRING, LONG, LONG, LONG, *DIMENSION_TYPES, STRING]),
    "dead_letters": _row(DEAD_LETTER_COLUMNS, [
        STRING, LONG, LONG, LONG, STRING, STRING, LONG, STRING, BOOLEAN, STRING, STRING]),
    "breaker_transitions": _row(TRANSITION_COLUMNS, [
        LONG, LONG, STRING, STRING, STRING, STRING, STRING, LONG, LONG, DOUBLE, DOUBLE, DOUBLE, STRING, STRING, STRING]),
    "audit_log": _row(AUDIT_COLUMNS, [LONG, *[STRING] * 10]),
    "label_outcomes": _row(OUTCOME_COLUMNS, [
        LONG, STRING, STRING, STRING, BOOLEAN, DOUBLE, BOOLEAN, STRING, STRING, STRING, STRING, LONG, LONG, LONG,
        STRING]),
    "smoke_minute_counts": _row(SMOKE_COLUMNS, [LONG, STRING, LONG, LONG, LONG, STRING, STRING, STRING]),
}
TABLE_NAMES = tuple(TABLES)
SINK_ROW = Types.ROW_NAMED(["table", *TABLE_NAMES], [STRING, *TABLES.values()])
_POSITION = {table: position for position, table in enumerate(TABLE_NAMES, start=1)}
# Where a table has arrays of tuples: PyFlink's coder takes their elements as Rows only.
_ARRAYS_OF_ROWS = {table: {position for position, field in enumerate(row_type.get_field_types())
                           if isinstance(field, ObjectArrayTypeInfo)} for table, row_type in TABLES.items()}


def sink_row(table: str, values: list) -> Row:
    """`values` (the table's columns in order) as the SINK_ROW bound for `table`."""
    fields: list = [None] * (len(TABLE_NAMES) + 1)
    fields[0] = table
    nested = _ARRAYS_OF_ROWS[table]
    fields[_POSITION[table]] = Row(*[[Row(*element) for element in value] if position in nested else value
                                     for position, value in enumerate(values)])
    return Row(*fields)


def columns(table: str) -> list[str]:
    return list(TABLES[table].get_field_names())


def values(row: Row) -> tuple[str, list]:
    """(table, values) of a SINK_ROW, as ClickHouse's client takes them (nested rows as tuples)."""
    table = row[0]
    return table, [_plain(value) for value in row[_POSITION[table]]]


def _plain(value):
    if isinstance(value, Row):
        return tuple(_plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
