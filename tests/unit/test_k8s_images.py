"""The images' Dockerfiles (k8s/images/) agree with the manifests and the project's pins: no Docker exists
here to build them, so what can be checked statically is checked: base image versions against the lock
files, and every path, user and command a manifest relies on against what its Dockerfile makes."""
from __future__ import annotations

import re
import tomllib

from riskstream.core import paths
from riskstream.io import java_build
from riskstream.stack import k8s

IMAGES = paths.REPO_ROOT / "k8s" / "images"
PROJECT = tomllib.loads((paths.REPO_ROOT / "pyproject.toml").read_text())["project"]
# tritonserver's container release that carries server 2.51, the version nvidia-pytriton 0.7.0 runs locally.
TRITON_RELEASE_FOR_PYTRITON = {"0.7.0": "24.10"}


def _pin(package: str) -> str:
    [spec] = [d for d in PROJECT["dependencies"] if re.match(rf"{re.escape(package)}(\[.*\])?==", d)]
    return spec.split("==")[1]


def _dockerfile(name: str) -> str:
    return (IMAGES / f"{name}.Dockerfile").read_text()


def _workloads() -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in k8s.documents(k8s.render("prod"))
            if d["kind"] in ("Deployment", "FlinkDeployment")}


def test_every_image_a_manifest_names_has_a_dockerfile_and_the_projects_version():
    images = set()
    for overlay in k8s.OVERLAYS:
        for doc in k8s.documents(k8s.render(overlay)):
            if doc["kind"] == "FlinkDeployment":
                images.add(doc["spec"]["image"])
            elif doc["kind"] == "Deployment":
                images |= {c["image"] for c in doc["spec"]["template"]["spec"]["containers"]}
    assert images == {f"riskstream/{name}:{PROJECT['version']}" for name in ("job", "app", "triton", "grafana")}
    for image in images:
        assert (IMAGES / f"{image.split('/')[1].split(':')[0]}.Dockerfile").exists(), image


def test_the_job_image_is_the_pinned_flink_with_what_the_flinkdeployment_runs():
    flink = _pin("apache-flink")
    dockerfile = _dockerfile("job")
    assert re.search(rf"^FROM flink:{re.escape(flink)}-java17$", dockerfile, re.M)
    spec = _workloads()["safety-health"]["spec"]
    major, minor = flink.split(".")[:2]
    assert spec["flinkVersion"] == f"v{major}_{minor}"
    assert spec["job"]["jarURI"] == f"local:///opt/flink/opt/flink-python-{flink}.jar"
    assert f"cp /opt/flink/opt/flink-python-{flink}.jar /opt/flink/lib/" in dockerfile
    args = spec["job"]["args"]
    options = dict(zip(args[::2], args[1::2]))
    assert options["-pyclientexec"] == options["-pyexec"] == "/opt/venv/bin/python"
    assert "python3.11 -m venv /opt/venv" in dockerfile
    assert options["-pyfs"] == "/opt/riskstream" and options["-pym"] == "jobs.safety_health"
    for package in ("jobs", "udfs", "riskstream", "schemas", "policies"):
        assert f"COPY {package} /opt/riskstream/{package}" in dockerfile, package
    # The connector JARs are the ones `make setup` verified against the lock file.
    assert "COPY .cache/jars/flink-connectors/ /opt/flink/usrlib/" in dockerfile
    assert "flink-connectors" in (paths.REPO_ROOT / "jars" / "jars.lock").read_text()
    # The job's keyed operators are the project's own class (jobs/keyed.py), built by `make setup`.
    assert f"COPY .cache/jars/{java_build.OPERATORS}/ /opt/flink/usrlib/" in dockerfile



def test_the_job_image_has_the_file_system_of_every_checkpoint_uri_the_overlays_use():
    flink, dockerfile = _pin("apache-flink"), _dockerfile("job")
    used = set()
    for overlay in k8s.OVERLAYS:
        [job] = [d for d in k8s.documents(k8s.render(overlay)) if d["kind"] == "FlinkDeployment"]
        configuration = job["spec"]["flinkConfiguration"]
        schemes = {value.split("://")[0] for key, value in configuration.items()
                   if key.endswith((".dir", ".savepoint-dir", ".storageDir")) and "://" in value}
        used |= schemes
        for scheme in schemes - {"file"}:
            assert scheme == "s3", (overlay, scheme)
            # A plugin needs a folder of its own under plugins/; the JAR is the image's own, of its version.
            assert f"cp /opt/flink/opt/flink-s3-fs-presto-{flink}.jar /opt/flink/plugins/s3-fs-presto/" in dockerfile
    assert "s3" in used  # prod's checkpoints, savepoints and HA metadata


def test_the_app_image_runs_the_guard_as_the_manifests_user():
    dockerfile = _dockerfile("app")
    assert "FROM python:3.11-" in dockerfile and PROJECT["requires-python"] == ">=3.11,<3.12"
    assert PROJECT["scripts"]["riskstream"] == "riskstream.cli.main:main"  # the command the args name
    guard = _workloads()["guard"]["spec"]["template"]["spec"]
    assert guard["containers"][0]["args"][:3] == ["riskstream", "guard", "serve"]
    assert f"USER {guard['securityContext']['runAsUser']}" in dockerfile
    # Installed as a package, its data with it (not an editable link to a source folder).
    assert "pip install --no-cache-dir /opt/riskstream" in dockerfile and "install --no-cache-dir -e" not in dockerfile


def test_the_triton_image_is_the_release_of_the_local_server_with_the_model_repository():
    requirements = (paths.REPO_ROOT / "model_repository" / "requirements.txt").read_text()
    [pytriton] = re.findall(r"^nvidia-pytriton==(\S+)$", requirements, re.M)
    dockerfile = _dockerfile("triton")
    assert f"FROM nvcr.io/nvidia/tritonserver:{TRITON_RELEASE_FOR_PYTRITON[pytriton]}-py3" in dockerfile
    container = _workloads()["triton"]["spec"]["template"]["spec"]["containers"][0]
    repository = next(a.split("=", 1)[1] for a in container["args"] if a.startswith("--model-repository="))
    assert f"COPY model_repository {repository}" in dockerfile
    assert "USER triton-server" in dockerfile


def test_the_grafana_image_is_the_sdks_grafana_with_the_plugin_the_queries_were_checked_against():
    from dashboards import clickhouse_query

    dockerfile = _dockerfile("grafana")
    grafana = _pin("grafana-foundation-sdk").split("!")[-1]  # the epoch, then the Grafana version it builds for
    assert re.search(rf"^FROM grafana/grafana:{re.escape(grafana)}$", dockerfile, re.M)
    assert f"grafana cli plugins install {clickhouse_query.PLUGIN_ID} {clickhouse_query.PLUGIN_VERSION}" in dockerfile
    pod = _workloads()["grafana"]["spec"]["template"]["spec"]
    assert f"USER {pod['securityContext']['runAsUser']}" in dockerfile
