"""Render `k8s/` overlays and check them against the real schemas: Kubernetes' own (from the PyPI
`kubernetes-validate` package) and the operators' CRDs (upstream files in ../shared/k8s-crds), with
kubeconform in strict mode (unknown fields, duplicate keys and wrong types all fail).

kubeconform reads JSON schemas from disk; both sources are converted once into `.cache/k8s-schemas/`:
the Kubernetes schemas lose their `$id` (an https URL, which would send the validator to the network
to resolve `/api/_definitions.json`) and refer to their definitions file by a relative path; each CRD
version's `openAPIV3Schema` becomes `<group>/<kind>_<version>.json`. Nothing in either is edited.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from riskstream.core import paths
from riskstream.core.errors import MissingTool

K8S_DIR = paths.REPO_ROOT / "k8s"
OVERLAYS = ("dev", "prod")
CRD_DIR = paths.REPO_ROOT.parent / "shared" / "k8s-crds"
KUBERNETES_VERSION = "1.37.0"  # the newest kubernetes-validate ships
SCHEMA_CACHE = paths.CACHE_DIR / "k8s-schemas"
KUBECONFORM = paths.CACHE_DIR / "bin" / "kubeconform"


@dataclass(frozen=True)
class Validation:
    ok: bool
    summary: str  # kubeconform's summary line
    errors: list[str]


def render(overlay: str) -> str:
    """`kubectl kustomize k8s/overlays/<overlay>`: the manifests an environment applies."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise MissingTool("kubectl was not found on PATH; it renders k8s/ (kubectl kustomize)")
    result = subprocess.run([kubectl, "kustomize", str(K8S_DIR / "overlays" / overlay)], capture_output=True,
                            text=True, timeout=120)
    if result.returncode != 0:
        raise MissingTool(f"kubectl kustomize k8s/overlays/{overlay} failed: {result.stderr.strip()}")
    return result.stdout


def documents(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def kubernetes_schemas(version: str = KUBERNETES_VERSION) -> Path:
    """Kubernetes' strict JSON schemas of `version`, as kubeconform can read them from disk."""
    target = SCHEMA_CACHE / f"v{version}-strict"
    if (target / ".converted").exists():
        return target
    source = resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"v{version}-local-strict"
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.name.endswith(".json"):
            schema = json.loads(entry.read_text())
            schema.pop("$id", None)
            text = json.dumps(schema).replace('"/api/_definitions.json#', '"_definitions.json#')
            (target / entry.name).write_text(text)
    (target / ".converted").touch()
    return target


def crd_schemas(crd_dir: Path = CRD_DIR) -> Path:
    """Every CRD version's schema under `<group>/<kind>_<version>.json` (rewritten on each call: cheap)."""
    target = SCHEMA_CACHE / "crds"
    for path in sorted(crd_dir.glob("*.y*ml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"].lower()
            for version in crd["spec"]["versions"]:
                out = target / group / f"{kind}_{version['name']}.json"
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(version["schema"]["openAPIV3Schema"]))
    return target


def validate(manifests: str, crd_dir: Path | None = CRD_DIR) -> Validation:
    """kubeconform -strict on `manifests`; without `crd_dir`, custom resources are reported as missing schemas."""
    if not KUBECONFORM.exists():
        raise MissingTool(f"kubeconform is not at {KUBECONFORM}: `make setup` installs the pinned version")
    locations = [str(kubernetes_schemas()) + "/{{ .ResourceKind }}{{ .KindSuffix }}.json"]
    if crd_dir is not None:
        locations.append(str(crd_schemas(crd_dir)) + "/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json")
    command = [str(KUBECONFORM), "-strict", "-summary", "-output", "json"]
    for location in locations:
        command += ["-schema-location", location]
    result = subprocess.run(command + ["-"], input=manifests, capture_output=True, text=True, timeout=120)
    report = json.loads(result.stdout or "{}")
    errors = [f"{r.get('kind')} {r.get('name')}: {r.get('msg')}" for r in report.get("resources", [])
              if r.get("status") != "statusValid"]
    summary = report.get("summary", {})
    line = (f"{summary.get('valid', 0)} valid, {summary.get('invalid', 0)} invalid, {summary.get('errors', 0)} "
            f"errors, {summary.get('skipped', 0)} skipped")
    return Validation(result.returncode == 0 and not errors, line, errors)
