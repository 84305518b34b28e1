"""bench.measure's per-process-name peaks: a child process's memory is counted under its own name."""
import sys

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
