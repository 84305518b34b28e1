import pytest

from riskstream.io import clickhouse
from riskstream.core.errors import RiskstreamError


def test_shipped_migrations_are_numbered_and_split_into_statements():
    migrations = clickhouse.load_migrations()
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert migrations[0].version == 1
    for migration in migrations:
        assert migration.statements(), migration.name


def test_statements_split_at_line_end_semicolons_and_skip_comments():
    migration = clickhouse.Migration(7, "007_x", "-- a comment; not a split\nCREATE TABLE a (x String DEFAULT ';')"
                                                 " ENGINE = Memory;\n\nCREATE TABLE b (y UInt8) ENGINE = Memory;\n")
    assert migration.statements() == ["CREATE TABLE a (x String DEFAULT ';') ENGINE = Memory",
                                      "CREATE TABLE b (y UInt8) ENGINE = Memory"]


def test_badly_named_migration_files_are_refused(tmp_path):
    (tmp_path / "1_first.sql").write_text("SELECT 1;")
    with pytest.raises(RiskstreamError, match="NNN_snake_case.sql"):
        clickhouse.load_migrations(tmp_path)
