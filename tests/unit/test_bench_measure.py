"""bench.measure's per-process-name peaks, and bench.compare's job variants' environments."""
import sys

import pytest

from bench.compare import JOB_ENV_PEER, variant_env

from bench.measure import run

CHILD = "import time; block = bytearray(200 * 2 ** 20); block[::4096] = b'x' * len(block[::4096]); time.sleep(1.5)"


def test_each_process_names_peak_is_its_own_and_the_tree_peak_covers_them(tmp_path):
    # A shell that starts a Python child holding 200 MiB: the child's peak is under "python...", not "sh".
    measured = run(["sh", "-c", f'{sys.executable} -c "{CHILD}"'], tmp_path / "log")
    assert measured.returncode == 0
    python = [mib for name, mib in measured.peak_rss_by_name_mib.items() if name.startswith("python")]
    assert len(python) == 1 and python[0] >= 200
    assert measured.peak_rss_by_name_mib["sh"] < 50
    assert measured.peak_rss_mib >= python[0]


def test_a_job_env_peer_carries_its_settings_values_with_equals_signs_kept():
    peer = JOB_ENV_PEER + "RISKSTREAM_BUNDLE_TIME_MS=1000,JVM_ARGS=-XX:MaxRAM=2g -Xmx384m"
    assert variant_env(peer) == {"RISKSTREAM_BUNDLE_TIME_MS": "1000", "JVM_ARGS": "-XX:MaxRAM=2g -Xmx384m"}
    assert variant_env("job") == {} and variant_env("job+cache") == {}


def test_a_job_env_setting_without_a_name_and_value_is_refused():
    with pytest.raises(SystemExit, match="'JVM_ARGS' is not NAME=VALUE"):
        variant_env(JOB_ENV_PEER + "RISKSTREAM_BUNDLE_TIME_MS=1000,JVM_ARGS")
