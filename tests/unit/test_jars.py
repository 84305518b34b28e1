import pytest

from riskstream.io import jars
from riskstream.core.errors import ChecksumMismatch, RiskstreamError


def test_the_lock_pins_every_bundle_with_sha256():
    lock = jars.read_lock()
    for bundle in jars.BUNDLES:
        names = [n for n in lock if n.startswith(bundle + "/")]
        assert names, f"no JARs locked for {bundle}"
    assert all(len(digest) == 64 for digest in lock.values())
    assert "flink-connectors/flink-sql-connector-kafka-5.0.0-2.2.jar" in lock
    assert "kafka-broker/kafka_2.13-4.4.0.jar" in lock


def test_a_tampered_jar_is_refetched_and_a_wrong_lock_fails(monkeypatch, tmp_path):
    monkeypatch.setattr(jars.paths, "JAR_CACHE_DIR", tmp_path)
    folder = tmp_path / "flink-connectors"
    folder.mkdir()
    (folder / "flink-sql-connector-kafka-5.0.0-2.2.jar").write_bytes(b"not the real jar")
    fetched = []
    monkeypatch.setattr(jars, "_resolve", lambda bundle: fetched.append(bundle))
    with pytest.raises(ChecksumMismatch, match="checksum of flink-connectors/flink-sql-connector-kafka"):
        jars.ensure("flink-connectors")
    assert fetched == ["flink-connectors"]


def test_a_malformed_lock_line_names_its_line(monkeypatch, tmp_path):
    lock = tmp_path / "jars.lock"
    lock.write_text("# header\nabc def ghi\n")
    monkeypatch.setattr(jars, "LOCK_FILE", lock)
    with pytest.raises(RiskstreamError, match="jars.lock:2"):
        jars.read_lock()
