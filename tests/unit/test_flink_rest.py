import os
import time

from riskstream.io.flink_rest import _savepoint_since

JOB = "0024679b6439dc2e79758032dd6a6f3c"


def _savepoint(folder, name, complete=True, mtime=None):
    path = folder / name
    path.mkdir()
    if complete:
        (path / "_metadata").write_bytes(b"x")
        if mtime is not None:
            os.utime(path / "_metadata", (mtime, mtime))
    return path


def test_the_savepoint_a_stop_wrote_is_found_when_the_rest_api_is_gone(tmp_path):
    now = time.time()
    _savepoint(tmp_path, "savepoint-002467-old", mtime=now - 600)           # an earlier stop's
    _savepoint(tmp_path, "savepoint-002467-partial", complete=False)        # not finished: no _metadata
    _savepoint(tmp_path, "savepoint-ffffff-other", mtime=now + 1)           # another job's
    written = _savepoint(tmp_path, "savepoint-002467-new", mtime=now + 1)
    assert _savepoint_since(tmp_path, JOB, now) == written
    assert _savepoint_since(tmp_path, JOB, now + 10) is None
