"""The ClickHouse client's TLS, against a real ClickHouse server's HTTPS listener.

On Kubernetes every client reaches ClickHouse over HTTPS and checks its certificate against the CA given by
`--clickhouse-ca-cert` (k8s/base/clickhouse.yaml). No current ClickHouse server installs here; Debian's
clickhouse-server 18.16 does (`make setup` unpacks it into .cache), with the same `https_port` and `openSSL`
configuration. It is too old for clickhouse-connect's queries: the client's first query (`SELECT version(),
timezone()`) runs, its second (`system.settings.readonly`, ClickHouse 19.17+) is refused by the server. So
these tests show the TLS layer, not queries: with the right CA the handshake succeeds and ClickHouse itself
answers (its log holds the client's query, its error code comes back); with no CA or another CA the client
refuses the server and says which address and which option.
"""
from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest

from riskstream.core import paths
from riskstream.core.config import ClickHouseSettings
from riskstream.core.errors import ServiceUnavailable
from riskstream.io import clickhouse, processes
from riskstream.stack import kafka_tls, process

ROOT = paths.CACHE_DIR / "clickhouse-tls-server" / "root"
SERVER = ROOT / "usr" / "sbin" / "clickhouse-server"
LIBRARIES = f"{ROOT}/usr/lib/x86_64-linux-gnu:{ROOT}/lib/x86_64-linux-gnu"


def _config(folder: Path, http_port: int, https_port: int, keystore: Path) -> Path:
    data = folder / "data"
    (folder / "users.xml").write_text(
        "<yandex><profiles><default/></profiles><quotas><default/></quotas><users><default><password/>"
        "<networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>"
        "</users></yandex>\n")
    config = folder / "config.xml"
    config.write_text(f"""<yandex>
  <logger><level>debug</level><log>{folder}/server.log</log><errorlog>{folder}/server.err.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http_port}</http_port>
  <https_port>{https_port}</https_port>
  <openSSL><server>
    <certificateFile>{keystore}</certificateFile>
    <privateKeyFile>{keystore}</privateKeyFile>
    <verificationMode>none</verificationMode>
    <loadDefaultCAFile>false</loadDefaultCAFile>
    <disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols>
  </server></openSSL>
  <path>{data}/</path>
  <tmp_path>{data}/tmp/</tmp_path>
  <user_files_path>{data}/user_files/</user_files_path>
  <format_schema_path>{data}/format_schemas/</format_schema_path>
  <users_config>{folder}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709</mark_cache_size>
</yandex>
""")
    return config


def _pings(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"{address}/ping", timeout=2) as response:
            return response.read().strip() == b"Ok."
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(https URL, the CA that signed its certificate, the server's log)."""
    if not SERVER.exists():
        pytest.fail(f"no ClickHouse server at {SERVER}: `make setup` unpacks it")
    folder = tmp_path_factory.mktemp("clickhouse-tls")
    certificates = kafka_tls.ensure(folder / "tls")  # a CA and a 127.0.0.1 certificate it signs
    http_port, https_port = processes.free_port(), processes.free_port()
    config = _config(folder, http_port, https_port, certificates.keystore)
    log = folder / "stdout.log"
    pid = process.spawn([str(SERVER), f"--config-file={config}"], log,
                        env={**os.environ, "LD_LIBRARY_PATH": LIBRARIES})
    try:
        process.wait_ready("ClickHouse (TLS test)", pid, log, lambda: _pings(f"http://127.0.0.1:{http_port}"), 60)
        yield f"https://127.0.0.1:{https_port}", certificates.ca, folder / "server.log"
    finally:
        process.terminate(pid)


def test_with_its_ca_the_client_reaches_clickhouse_over_verified_tls(server):
    url, ca, log = server
    with pytest.raises(ServiceUnavailable) as refused:
        clickhouse.connect(ClickHouseSettings(url=url, ca_cert=str(ca)))
    # ClickHouse answered: the error is the server's own (an unknown column of its old system.settings) ...
    assert "Code: 47" in str(refused.value) and "readonly" in str(refused.value)
    assert "CERTIFICATE_VERIFY_FAILED" not in str(refused.value)
    # ... after it ran the client's first query, which came over the TLS connection.
    assert "SELECT version(), timezone()" in log.read_text(errors="replace")


def test_without_its_ca_the_client_refuses_the_server_naming_the_address_and_the_option(server):
    url, _, _ = server
    with pytest.raises(ServiceUnavailable) as refused:
        clickhouse.connect(ClickHouseSettings(url=url))
    message = str(refused.value)
    assert message.startswith(f"ClickHouse is not reachable at {url}: its TLS certificate is not signed by the "
                              "system's CAs")
    assert "--clickhouse-ca-cert" in message


def test_another_ca_is_refused_too_and_a_missing_ca_file_is_named(server, tmp_path):
    url, _, _ = server
    other = kafka_tls.ensure(tmp_path / "other").ca  # a CA that did not sign the server's certificate
    with pytest.raises(ServiceUnavailable, match=f"not signed by the CA in {other}"):
        clickhouse.connect(ClickHouseSettings(url=url, ca_cert=str(other)))
    with pytest.raises(ServiceUnavailable, match=r"the CA file /nonexistent/ca.crt \(--clickhouse-ca-cert\) does not"):
        clickhouse.connect(ClickHouseSettings(url=url, ca_cert="/nonexistent/ca.crt"))
