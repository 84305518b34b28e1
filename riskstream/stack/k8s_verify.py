"""Server-side dry-run of `k8s/` against a real kube-apiserver (`make k8s-verify`).

kubeconform checks the manifests against schemas; a kube-apiserver also runs what a cluster runs on an apply:
defaulting, validation of every built-in kind and of the operators' CRDs (their OpenAPI schemas and CEL
rules), name and label rules, and the admission chain. Here it runs on 127.0.0.1 from source: kube-apiserver
built from k8s.io/kubernetes (pinned in k8s/verify/go.mod, checksums in go.sum) with Debian's etcd. The CRDs
(../shared/k8s-crds/) are applied for real, the namespace created, then every overlay is applied with
`kubectl apply --dry-run=server`: nothing is stored, every object is checked.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import urllib3

from riskstream.core import paths
from riskstream.core.errors import MissingTool, RiskstreamError
from riskstream.io.processes import free_port
from riskstream.stack import k8s, process

KUBE_APISERVER = paths.CACHE_DIR / "bin" / "kube-apiserver"
TOKEN = "riskstream-k8s-verify"


@dataclass(frozen=True)
class OverlayResult:
    overlay: str
    ok: bool
    objects: list[str]  # kubectl's "<kind>/<name> created (server dry run)" lines
    errors: str


# The server must refuse what a cluster would: a FlinkDeployment whose flinkVersion is outside its CRD's enum.
BROKEN = ("flinkVersion: v2_3", "flinkVersion: v9_9")


def _tool(path: Path | str, hint: str) -> str:
    found = shutil.which(str(path)) if not Path(path).is_absolute() else (str(path) if Path(path).exists() else None)
    if found is None:
        raise MissingTool(f"{path} is missing: {hint}")
    return found


def _wait(what: str, pid: int, log: Path, probe, timeout_s: float) -> None:
    process.wait_ready(what, pid, log, probe, timeout_s=timeout_s)


urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the throwaway server's self-signed cert


def _answers(url: str) -> bool:
    """Whether `url` answers 200 (the token for kube-apiserver; etcd's /health ignores it)."""
    try:
        return requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, verify=False, timeout=2).ok
    except requests.RequestException:
        return False


def verify(crd_dir: Path = k8s.CRD_DIR, overlays: tuple[str, ...] = k8s.OVERLAYS) -> list[OverlayResult]:
    """Start etcd and kube-apiserver, apply the CRDs, dry-run every overlay; stop both."""
    etcd = _tool("etcd", "install Debian's etcd-server (make k8s-verify does)")
    apiserver = _tool(KUBE_APISERVER, "run `make k8s-verify` (it builds kube-apiserver from k8s/verify/go.mod)")
    kubectl = _tool("kubectl", "kubectl renders and applies k8s/")
    if not crd_dir.is_dir():
        raise MissingTool(f"no operator CRDs at {crd_dir}: the dry-run needs them (see its README)")
    with tempfile.TemporaryDirectory(prefix="riskstream-k8s-verify-") as tmp:
        work = Path(tmp)
        etcd_client, etcd_peer, secure = free_port(), free_port(), free_port()
        (work / "tokens.csv").write_text(f"{TOKEN},riskstream-verify,riskstream-verify,system:masters\n")
        subprocess.run(["openssl", "genrsa", "-out", str(work / "sa.key"), "2048"], check=True, capture_output=True)
        etcd_log, apiserver_log = work / "etcd.log", work / "kube-apiserver.log"
        etcd_pid = process.spawn([etcd, f"--data-dir={work / 'etcd'}",
                                  f"--listen-client-urls=http://127.0.0.1:{etcd_client}",
                                  f"--advertise-client-urls=http://127.0.0.1:{etcd_client}",
                                  f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                                  f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                                  f"--initial-cluster=default=http://127.0.0.1:{etcd_peer}"], etcd_log)
        apiserver_pid = None
        try:
            _wait("etcd", etcd_pid, etcd_log, lambda: _answers(f"http://127.0.0.1:{etcd_client}/health"), 60)
            apiserver_pid = process.spawn([
                apiserver, f"--etcd-servers=http://127.0.0.1:{etcd_client}", "--bind-address=127.0.0.1",
                f"--secure-port={secure}", f"--cert-dir={work / 'certs'}", f"--token-auth-file={work / 'tokens.csv'}",
                "--authorization-mode=RBAC", f"--service-account-key-file={work / 'sa.key'}",
                f"--service-account-signing-key-file={work / 'sa.key'}",
                "--service-account-issuer=https://kubernetes.default.svc", "--service-cluster-ip-range=10.96.0.0/16",
                "--enable-priority-and-fairness=false"], apiserver_log)
            url = f"https://127.0.0.1:{secure}"
            _wait("kube-apiserver", apiserver_pid, apiserver_log, lambda: _answers(f"{url}/readyz"), 120)
            base = [kubectl, f"--server={url}", f"--token={TOKEN}", "--insecure-skip-tls-verify=true"]

            def run(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
                result = subprocess.run([*base, *args], capture_output=True, text=True, timeout=300, input=stdin)
                if check and result.returncode != 0:
                    raise RiskstreamError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
                return result

            # Server-side apply: the CRDs are larger than a client-side apply's last-applied annotation allows.
            for crd in sorted(crd_dir.glob("*.y*ml")):
                run("apply", "--server-side", "-f", str(crd))
            run("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
            run("create", "namespace", "riskstream", "--save-config")
            broken = k8s.render(overlays[0]).replace(*BROKEN)
            refused = run("apply", "--dry-run=server", "-f", "-", check=False, stdin=broken)
            if refused.returncode == 0 or "v9_9" not in refused.stderr:
                raise RiskstreamError(f"the server accepted a FlinkDeployment with {BROKEN[1]}: it does not validate "
                                      f"the CRDs, so its verdict on k8s/ means nothing ({refused.stderr.strip()})")
            results = []
            for overlay in overlays:
                done = run("apply", "--dry-run=server", "-k", str(k8s.K8S_DIR / "overlays" / overlay), check=False)
                results.append(OverlayResult(overlay, done.returncode == 0, done.stdout.strip().splitlines(),
                                             done.stderr.strip()))
            return results
        finally:
            for pid in (apiserver_pid, etcd_pid):
                if pid is not None:
                    process.terminate(pid)
            time.sleep(0.5)


def main() -> int:
    results = verify()
    print(f"(first: a FlinkDeployment with {BROKEN[1]} was refused, so the server validates the CRDs)")
    for result in results:
        print(f"k8s/overlays/{result.overlay}: {len(result.objects)} objects, "
              f"{'accepted' if result.ok else 'REFUSED'} by a server-side dry-run")
        for line in result.objects:
            print(f"  {line}")
        if result.errors:
            print(f"  {result.errors}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
