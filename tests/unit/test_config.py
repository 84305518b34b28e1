import argparse

import pytest

from riskstream.core import config
from riskstream.core.config import Secret
from riskstream.core.errors import ConfigError


def _parse(options, argv, monkeypatch=None, env=None):
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    parser = argparse.ArgumentParser()
    config.add_options(parser, options)
    return parser, parser.parse_args(argv)


def test_env_var_sets_the_default_and_a_flag_overrides_it(monkeypatch):
    _, args = _parse(config.STACK_OPTIONS, [], monkeypatch, {"RISKSTREAM_KAFKA_PORT": "29092"})
    assert args.kafka_port == 29092
    _, args = _parse(config.STACK_OPTIONS, ["--kafka-port", "39092"], monkeypatch, {"RISKSTREAM_KAFKA_PORT": "29092"})
    assert args.kafka_port == 39092


def test_help_names_the_env_var_behind_each_flag():
    parser, _ = _parse(config.SERVICE_OPTIONS, [])
    text = parser.format_help()
    for option in config.SERVICE_OPTIONS:
        assert option.env in text


def test_describe_masks_secrets():
    _, args = _parse(config.SERVICE_OPTIONS, ["--kafka-bootstrap", "k:9092", "--triton-url", "t:8001",
                                              "--clickhouse-url", "http://ch:8123",
                                              "--clickhouse-password", "hunter2"])
    settings = config.service_settings(args)
    text = config.describe(settings)
    assert "hunter2" not in text
    assert "clickhouse.password = '***'" in text
    assert settings.clickhouse.password == "hunter2"
    assert repr(Secret("")) == "''"


def test_addresses_fall_back_to_the_local_stack_and_fail_clearly_without_it():
    _, args = _parse(config.SERVICE_OPTIONS, [])
    local = {"kafka": "127.0.0.1:1", "triton": "127.0.0.1:2", "clickhouse": "chdb:///x"}
    settings = config.service_settings(args, local)
    assert settings.kafka.bootstrap_servers == "127.0.0.1:1"
    assert settings.clickhouse.is_embedded
    with pytest.raises(ConfigError, match="--kafka-bootstrap.*RISKSTREAM_KAFKA_BOOTSTRAP"):
        config.service_settings(args, {})


def test_impressions_are_kept_a_week_by_default_and_forever_with_minus_one():
    from riskstream.io import topics
    from riskstream.core.config import KafkaSettings

    impressions = topics.specs(KafkaSettings("127.0.0.1:9092"))[0]
    assert impressions.configs["retention.ms"] == str(7 * 24 * 3600 * 1000)
    forever = topics.specs(KafkaSettings("127.0.0.1:9092", impressions_retention_hours=-1))[0]
    assert forever.configs["retention.ms"] == "-1"


def test_offsets_format_and_parse_are_inverse():
    from riskstream.core.job_config import format_offsets, parse_offsets

    assert format_offsets({1: 98, 0: 120}) == "0:120,1:98"
    assert parse_offsets(format_offsets({0: 120, 1: 98, 2: 0})) == {0: 120, 1: 98, 2: 0}


def _job_args(argv):
    from riskstream.core import job_config

    parser = argparse.ArgumentParser()
    config.add_options(parser, job_config.HEALTH_JOB_OPTIONS)
    job_config.add_run_arguments(parser)
    return parser.parse_args(argv)


def test_checkpoints_default_to_the_state_folder_locally_and_to_the_clusters_setting_on_a_cluster(tmp_path):
    from riskstream.core.job_config import health_job_settings

    assert health_job_settings(_job_args([]), tmp_path).checkpoint_dir == tmp_path.resolve() / "checkpoints"
    # A FlinkDeployment names its checkpoint storage (a PVC, an object store): the job leaves it alone.
    assert health_job_settings(_job_args([]), tmp_path, on_cluster=True).checkpoint_dir is None
    given = health_job_settings(_job_args(["--checkpoint-dir", "s3://bucket/chk"]), tmp_path, on_cluster=True)
    assert given.checkpoint_dir == "s3://bucket/chk"
    relative = health_job_settings(_job_args(["--checkpoint-dir", "chk"]), tmp_path)
    assert relative.checkpoint_dir.is_absolute() and relative.checkpoint_dir.name == "chk"


def test_latest_checkpoint_needs_a_local_folder():
    from riskstream.core.errors import RiskstreamError
    from riskstream.io import checkpoints

    for location in ("s3://bucket/chk", None):
        with pytest.raises(RiskstreamError, match="give the checkpoint's path or URI"):
            checkpoints.latest(location)


def test_lineage_goes_to_the_state_folder_locally_only_where_configured_on_a_cluster(tmp_path):
    from riskstream.core.job_config import health_job_settings

    local = health_job_settings(_job_args([]), tmp_path).lineage
    assert (local.file, local.url, local.enabled) == (tmp_path.resolve() / "lineage" / "events.jsonl", "", True)
    cluster = health_job_settings(_job_args([]), tmp_path, on_cluster=True).lineage
    assert (cluster.file, cluster.enabled) == (None, False)
    marquez = health_job_settings(_job_args(["--lineage-url", "http://marquez:5000", "--lineage-file", "",
                                             "--lineage-api-key", "s3cret"]), tmp_path, on_cluster=True).lineage
    assert (marquez.file, marquez.url, marquez.enabled) == (None, "http://marquez:5000", True)
    assert "s3cret" not in config.describe(marquez)


@pytest.mark.parametrize("argv, field", [(["--lineage-url", "marquez:5000"], "--lineage-url"),
                                         (["--lineage-interval-s", "-1"], "--lineage-interval-s"),
                                         (["--lineage-namespace", ""], "--lineage-namespace")])
def test_a_bad_lineage_setting_is_refused_naming_the_flag(tmp_path, argv, field):
    from riskstream.core.job_config import health_job_settings

    with pytest.raises(ConfigError, match=field):
        health_job_settings(_job_args(argv), tmp_path)


def test_a_clickhouse_ca_needs_an_https_url_and_is_read_from_its_flag_or_env(monkeypatch, tmp_path):
    with pytest.raises(ConfigError, match=r"--clickhouse-ca-cert is set but --clickhouse-url 'http://ch:8123'"):
        config.ClickHouseSettings(url="http://ch:8123", ca_cert="/etc/ca.crt")
    with pytest.raises(ConfigError, match="--clickhouse-ca-cert"):
        config.ClickHouseSettings(url="chdb:///tmp/x", ca_cert="/etc/ca.crt")
    assert config.ClickHouseSettings(url="https://ch:8443", ca_cert="/etc/ca.crt").ca_cert == "/etc/ca.crt"
    _, args = _parse(config.SERVICE_OPTIONS, ["--clickhouse-url", "https://ch:8443"], monkeypatch,
                     {"RISKSTREAM_CLICKHOUSE_CA_CERT": str(tmp_path / "ca.crt")})
    settings = config.service_settings(args, {"kafka": "k:9092", "triton": "t:8001"})
    assert settings.clickhouse.ca_cert == str(tmp_path / "ca.crt")
