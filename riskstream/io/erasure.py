"""Erase ids from ClickHouse, physically: aggregates keep their counts and lose the ids from their item lists;
every other row that names one is deleted. Mutations are waited for, then the active parts are scanned again.

A row "names" an id when the id is one of the runs of id characters in the row's text (every column, nested
ones included), so an id never matches inside a longer one. Parts a mutation replaced stay on disk, inactive,
until ClickHouse removes them (`old_parts_lifetime`, 8 minutes by default); no query reads them.
"""
from __future__ import annotations

from clickhouse_connect.driver.client import Client

from riskstream.core import retention
from riskstream.core.rows import ID_CHARACTERS

# Aggregates whose item lists lose the ids: their counts are anonymous and stay.
ITEM_LISTS = {"safety_health": "top_unsafe_items", "shadow_health": "flipped_items"}


def tables(client: Client) -> list[str]:
    """The database's tables but the migration ledger."""
    rows = client.query("SELECT name FROM system.tables WHERE database = currentDatabase() AND NOT is_temporary "
                        "AND engine LIKE '%MergeTree' ORDER BY name").result_rows
    return [name for (name,) in rows if name != retention.LEDGER]


def _columns(client: Client) -> dict[str, list[str]]:
    """Every table of the database -> its columns in order (one read of system.columns)."""
    found: dict[str, list[str]] = {}
    for table, name in client.query("SELECT table, name FROM system.columns WHERE database = currentDatabase() "
                                    "ORDER BY table, position").result_rows:
        found.setdefault(table, []).append(name)
    return found


def _names_one(columns: list[str]) -> str:
    """A condition on a table's rows (of `columns`): one of its runs of id characters is in {ids:Array(String)}."""
    text = "toString(tuple(" + ", ".join(f"`{c}`" for c in columns) + "))"
    # IN (subquery) makes a hash set of the ids: one lookup per run, however many ids.
    return f"arrayExists(t -> t IN (SELECT arrayJoin({{ids:Array(String)}})), extractAll({text}, '[{ID_CHARACTERS}]+'))"


def rows_naming(client: Client, table: str, ids: list[str], columns: list[str] | None = None) -> int:
    """Rows of `table` in its active parts (no FINAL: an older version of a row counts too) naming one of `ids`."""
    if not ids:
        return 0
    columns = _columns(client)[table] if columns is None else columns
    return int(client.query(f"SELECT count() FROM {table} WHERE {_names_one(columns)}",
                            parameters={"ids": ids}).result_rows[0][0])


def scan(client: Client, ids: list[str]) -> dict[str, int]:
    """Every table -> rows naming one of `ids`."""
    columns = _columns(client)
    return {table: rows_naming(client, table, ids, columns[table]) for table in tables(client)}


def erase(client: Client, ids: list[str]) -> dict[str, int]:
    """Remove `ids` from every table; returns, per table, the rows that named one (rewritten or deleted)."""
    columns = _columns(client)
    found = {table: rows_naming(client, table, ids, columns[table]) for table in tables(client)}
    for table, count in found.items():
        if not count:
            continue
        if table in ITEM_LISTS:
            column = ITEM_LISTS[table]
            client.command(f"ALTER TABLE {table} UPDATE {column} = arrayFilter(i -> NOT has({{ids:Array(String)}}, "
                           f"i.item_id), {column}) WHERE hasAny({column}.item_id, {{ids:Array(String)}}) "
                           f"SETTINGS mutations_sync = 2", parameters={"ids": ids})
        if table not in ITEM_LISTS or rows_naming(client, table, ids, columns[table]):
            client.command(f"ALTER TABLE {table} DELETE WHERE {_names_one(columns[table])} SETTINGS mutations_sync = 2",
                           parameters={"ids": ids})
    return {table: count for table, count in found.items() if count}


def unfinished_mutations(client: Client) -> int:
    return int(client.query("SELECT count() FROM system.mutations WHERE database = currentDatabase() "
                            "AND NOT is_done").result_rows[0][0])
