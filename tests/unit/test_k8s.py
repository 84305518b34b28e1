"""`k8s/`: every overlay renders and passes kubeconform strict against Kubernetes' and the operators' own
schemas; the manifests agree with the code (topics, environment variables); and the house rules hold
(resources, probes, pinned images, non-root, disruption budgets, no secrets in git)."""
from __future__ import annotations

import functools
import os

import pytest
import yaml

from riskstream.core import config, guard_config, job_config, paths
from riskstream.core.config import KafkaSettings, RetentionSettings
from riskstream.io import topics
from riskstream.core import kafka_access
from riskstream.stack import k8s, k8s_users

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


@functools.cache
def _rendered(overlay: str) -> list[dict]:
    return k8s.documents(k8s.render(overlay))


def _crds():
    if not k8s.CRD_DIR.is_dir():
        pytest.skip(f"no operator CRDs at {k8s.CRD_DIR} (copied from the Flink operator, Strimzi and Altinity "
                    f"repositories; see its README): custom resources not validated")
    return k8s.CRD_DIR


@pytest.mark.parametrize("overlay", k8s.OVERLAYS)
def test_every_overlay_passes_kubeconform_strict_with_the_operators_crds(overlay):
    result = k8s.validate(k8s.render(overlay), _crds())
    assert result.ok, result.errors
    kinds = {d["kind"] for d in _rendered(overlay)}
    assert {"FlinkDeployment", "Kafka", "KafkaNodePool", "KafkaTopic", "ClickHouseInstallation",
            "Deployment", "Service", "PodDisruptionBudget", "ConfigMap", "NetworkPolicy"} <= kinds


def test_the_validation_refuses_what_a_cluster_would():
    manifests = k8s.render("dev")
    misspelled = manifests.replace("  replicas: 1\n  selector:", "  replica: 1\n  selector:", 1)
    assert "replica: 1" in misspelled
    result = k8s.validate(misspelled, _crds())
    assert not result.ok and any("'replica' not allowed" in e for e in result.errors)
    wrong_flink = manifests.replace("flinkVersion: v2_3", "flinkVersion: v9_9")
    assert not k8s.validate(wrong_flink, _crds()).ok  # the CRD's enum, not a guess


@pytest.mark.parametrize("overlay", k8s.OVERLAYS)
def _env(docs: list[dict]) -> dict[str, str]:
    [env] = [d["data"] for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("riskstream-env")]
    return env


def _kafka(env: dict[str, str]) -> KafkaSettings:
    """The project's Kafka settings as the ConfigMap gives them."""
    return KafkaSettings(bootstrap_servers=env["RISKSTREAM_KAFKA_BOOTSTRAP"],
                          impressions_topic=env["RISKSTREAM_IMPRESSIONS_TOPIC"],
                          dead_letter_topic=env["RISKSTREAM_DEAD_LETTER_TOPIC"],
                          policies_topic=env["RISKSTREAM_POLICIES_TOPIC"],
                          item_verdicts_topic=env["RISKSTREAM_ITEM_VERDICTS_TOPIC"],
                          breaker_state_topic=env["RISKSTREAM_BREAKER_STATE_TOPIC"],
                          moderation_labels_topic=env["RISKSTREAM_MODERATION_LABELS_TOPIC"],
                          forget_requests_topic=env["RISKSTREAM_FORGET_REQUESTS_TOPIC"],
                          partitions=int(env["RISKSTREAM_TOPIC_PARTITIONS"]),
                          retention=RetentionSettings(item_days=int(env["RISKSTREAM_ITEM_RETENTION_DAYS"]),
                                                      label_days=int(env["RISKSTREAM_LABEL_RETENTION_DAYS"]),
                                                      aggregate_days=int(env["RISKSTREAM_AGGREGATE_RETENTION_DAYS"]),
                                                      audit_days=int(env["RISKSTREAM_AUDIT_RETENTION_DAYS"])))


@pytest.mark.parametrize("overlay", k8s.OVERLAYS)
def test_kafka_topics_are_the_codes_topic_list_with_its_partitions_and_configs(overlay):
    docs = _rendered(overlay)
    kafka = _kafka(_env(docs))
    manifests = {d["spec"]["topicName"]: (d["spec"]["partitions"], {k: str(v) for k, v in d["spec"]["config"].items()})
                 for d in docs if d["kind"] == "KafkaTopic"}
    assert manifests == {s.name: (s.partitions, s.configs) for s in topics.specs(kafka)}


@pytest.mark.parametrize("overlay", k8s.OVERLAYS)
def test_kafka_admits_only_tls_and_scram_users_with_the_access_tables_grants(overlay):
    docs = _rendered(overlay)
    env = _env(docs)
    [cluster] = [d["spec"]["kafka"] for d in docs if d["kind"] == "Kafka"]
    assert cluster["authorization"] == {"type": "simple"}
    assert [(listener["tls"], listener["authentication"]) for listener in cluster["listeners"]] == [
        (True, {"type": "scram-sha-512"})]
    assert env["RISKSTREAM_KAFKA_BOOTSTRAP"] == f"riskstream-kafka-bootstrap:{cluster['listeners'][0]['port']}"
    assert (env["RISKSTREAM_KAFKA_SECURITY_PROTOCOL"], env["RISKSTREAM_KAFKA_SASL_MECHANISM"]) == (
        "SASL_SSL", "SCRAM-SHA-512")
    # The KafkaUsers are the table's, for the topics the ConfigMap names; the file is what the command writes.
    users = {d["metadata"]["name"]: d for d in docs if d["kind"] == "KafkaUser"}
    assert {name: d["spec"] for name, d in users.items()} == {
        u.name: k8s_users.kafka_user(u)["spec"] for u in kafka_access.users(_kafka(env))}
    assert all(d["metadata"]["labels"]["strimzi.io/cluster"] == "riskstream" for d in users.values())
    assert k8s_users.FILE.read_text() == k8s_users.manifest(KafkaSettings(bootstrap_servers="")), \
        "k8s/base/kafka-users.yaml is stale: run `riskstream k8s render`"


@pytest.mark.parametrize("overlay", k8s.OVERLAYS)
def test_each_kafka_client_authenticates_as_its_own_user_with_its_users_secret(overlay):
    docs = _rendered(overlay)
    [job] = [d["spec"]["podTemplate"]["spec"] for d in docs if d["kind"] == "FlinkDeployment"]
    [guard] = [d["spec"]["template"]["spec"] for d in docs if d["kind"] == "Deployment"
               and d["metadata"]["name"] == "guard"]
    for pod, user in ((job, "riskstream-job"), (guard, "riskstream-guard")):
        [container] = pod["containers"]
        variables = {v["name"]: v for v in container["env"]}
        assert variables["RISKSTREAM_KAFKA_SASL_USERNAME"]["value"] == user
        assert variables["RISKSTREAM_KAFKA_SASL_PASSWORD"]["valueFrom"] == {
            "secretKeyRef": {"name": user, "key": "password"}}              # the Secret the User Operator makes
        [mount] = [m for m in container["volumeMounts"] if m["name"] == "kafka-ca"]
        assert f"{mount['mountPath']}/ca.crt" == _env(docs)["RISKSTREAM_KAFKA_SSL_CA_LOCATION"]
        [volume] = [v for v in pod["volumes"] if v["name"] == "kafka-ca"]
        assert volume["secret"]["secretName"] == "riskstream-cluster-ca-cert"   # Strimzi's <cluster>-cluster-ca-cert


def test_every_environment_variable_set_is_one_the_code_reads():
    options = [value for module in (config, job_config, guard_config) for value in vars(module).values()
               if isinstance(value, config.Option)]
    known = {option.env for option in options}
    for overlay in k8s.OVERLAYS:
        for doc in _rendered(overlay):
            if doc["metadata"]["name"] == "grafana" or doc["metadata"]["name"].startswith("riskstream-grafana-env") \
                    or doc["metadata"]["name"].startswith("grafana-"):
                continue  # Grafana reads what its provisioning files name (the test below)
            if doc["kind"] == "ConfigMap":
                assert set(doc["data"]) <= known, set(doc["data"]) - known
            for container in _containers(doc):
                for variable in container.get("env", []):
                    assert variable["name"] in known, variable["name"]
                    # Secrets by reference only, never a value in git.
                    assert "value" not in variable or "PASSWORD" not in variable["name"], variable


def _containers(doc: dict) -> list[dict]:
    if doc["kind"] in WORKLOADS:
        return doc["spec"]["template"]["spec"]["containers"]
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    if doc["kind"] == "FlinkDeployment":
        return doc["spec"]["podTemplate"]["spec"]["containers"]
    return []


@pytest.mark.parametrize("overlay", k8s.OVERLAYS)
def test_workloads_have_resources_probes_pinned_images_non_root_and_a_disruption_budget(overlay):
    docs = _rendered(overlay)
    assert not [d for d in docs if d["kind"] == "Secret"], "secrets are created by the platform, not kept in git"
    budgets = {d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] for d in docs
               if d["kind"] == "PodDisruptionBudget"}
    for doc in docs:
        if doc["kind"] not in WORKLOADS:
            continue
        name = doc["metadata"]["name"]
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        serves = doc["kind"] != "Job"  # a Job runs to its end: no probes, no disruption budget
        assert not serves or doc["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] in budgets, name
        for container in pod["containers"]:
            image = container["image"]
            assert ":" in image and not image.endswith(":latest"), image
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"], name
            assert not serves or ("readinessProbe" in container and "livenessProbe" in container), name
    flink = [d for d in docs if d["kind"] == "FlinkDeployment"]
    assert flink and all(":" in d["spec"]["image"] for d in flink)
    assert all(d["spec"]["job"]["upgradeMode"] == "savepoint" for d in flink)


@pytest.mark.parametrize("overlay", k8s.OVERLAYS)
def test_firing_alerts_are_explained_every_minute_by_a_command_the_cli_accepts(overlay):
    import time

    from riskstream.cli.main import build_parser

    [cron] = [d for d in _rendered(overlay) if d["kind"] == "CronJob" and d["metadata"]["name"] == "explain-alerts"]
    assert (cron["spec"]["schedule"], cron["spec"]["concurrencyPolicy"]) == ("* * * * *", "Forbid")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] and container["args"][0] == "riskstream"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"]) and "memory" in container["resources"]["limits"]
    args = build_parser().parse_args(container["args"][1:])
    assert args.alerts and args.write and abs(args.at - time.time() * 1000) < 60_000


@pytest.mark.parametrize("overlay", k8s.OVERLAYS)
def test_the_deployed_job_joins_labels_with_arguments_its_parser_accepts(overlay, monkeypatch, tmp_path):
    from jobs import safety_health

    docs = _rendered(overlay)
    [job] = [d for d in docs if d["kind"] == "FlinkDeployment"]
    [env] = [d["data"] for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("riskstream-env")]
    # The pod's environment, as the ConfigMap gives it, and no local stack to fall back on.
    for name in [n for n in os.environ if n.startswith("RISKSTREAM_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # and the container's own: its Kafka user, and the secrets (a stand-in for what the Secret holds).
    [container] = job["spec"]["podTemplate"]["spec"]["containers"]
    for variable in container["env"]:
        secret = variable.get("valueFrom", {}).get("secretKeyRef")
        monkeypatch.setenv(variable["name"], variable["value"] if secret is None else f"from-secret-{secret['name']}")
    monkeypatch.setenv("RISKSTREAM_STATE_DIR", str(tmp_path))
    args = job["spec"]["job"]["args"]
    services, job_settings = safety_health.parse_args(args[args.index("jobs.safety_health") + 1:])
    assert job_settings.label_join and job_settings.job_id == "safety-health"
    assert services.kafka.bootstrap_servers == env["RISKSTREAM_KAFKA_BOOTSTRAP"]
    assert services.kafka.moderation_labels_topic == env["RISKSTREAM_MODERATION_LABELS_TOPIC"]
    # TLS and SCRAM as the job's KafkaUser, its password from that user's Secret, the CA where it is mounted.
    security = services.kafka.security
    assert (security.protocol, security.sasl_mechanism, security.username) == ("SASL_SSL", "SCRAM-SHA-512",
                                                                               "riskstream-job")
    assert security.password == "from-secret-riskstream-job"
    [mount] = [m for m in container["volumeMounts"] if m["name"] == "kafka-ca"]
    [volume] = [v for v in job["spec"]["podTemplate"]["spec"]["volumes"] if v["name"] == "kafka-ca"]
    assert security.ca_location == f"{mount['mountPath']}/ca.crt"
    assert volume["secret"] == {"secretName": "riskstream-cluster-ca-cert", "items": [{"key": "ca.crt",
                                                                                      "path": "ca.crt"}]}


@pytest.mark.parametrize("overlay", k8s.OVERLAYS)
def test_the_model_is_measured_against_labels_every_hour_over_a_day_by_a_command_the_cli_accepts(overlay):
    import time

    from riskstream.cli.main import build_parser

    [cron] = [d for d in _rendered(overlay) if d["kind"] == "CronJob" and d["metadata"]["name"] == "bias-findings"]
    assert (cron["spec"]["schedule"], cron["spec"]["concurrencyPolicy"]) == ("7 * * * *", "Forbid")
    [container] = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    args = build_parser().parse_args(container["args"][1:])
    assert args.write and args.hours == 24 and abs(args.to - time.time() * 1000) < 60_000


def test_prod_runs_triton_on_gpus_three_brokers_and_flink_ha():
    docs = _rendered("prod")
    [triton] = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "triton"]
    assert triton["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    # The GPU model configuration, which the image carries with the rest of the model repository.
    args = triton["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--model-config-name=gpu" in args and "--model-repository=/models" in args
    assert (paths.MODEL_REPOSITORY / "safety_text" / "configs" / "gpu.pbtxt").exists()
    assert not any(a.startswith("--model-config-name") for d in _rendered("dev") if d["kind"] == "Deployment"
                   and d["metadata"]["name"] == "triton" for a in d["spec"]["template"]["spec"]["containers"][0]["args"])
    pools = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "KafkaNodePool"}
    assert {name: (p["replicas"], p["roles"]) for name, p in pools.items()} == {
        "controllers": (3, ["controller"]), "brokers": (3, ["broker"])}
    [flink] = [d for d in docs if d["kind"] == "FlinkDeployment"]
    assert flink["spec"]["flinkConfiguration"]["high-availability.type"] == "kubernetes"
    assert flink["spec"]["flinkConfiguration"]["execution.checkpointing.dir"].startswith("s3://")
    assert {d["spec"]["replicas"] for d in docs if d["kind"] == "KafkaTopic"} == {3}


@pytest.mark.parametrize("overlay", k8s.OVERLAYS)
def test_the_job_keeps_checkpoints_and_savepoints_as_the_retention_settings_say(overlay):
    from riskstream.core import retention

    [job] = [d for d in _rendered(overlay) if d["kind"] == "FlinkDeployment"]
    flink = job["spec"]["flinkConfiguration"]
    assert flink["execution.checkpointing.num-retained"] == str(retention.CHECKPOINTS_RETAINED)
    assert flink["kubernetes.operator.savepoint.history.max.count"] == str(retention.SAVEPOINTS_KEPT)
    assert flink["kubernetes.operator.savepoint.history.max.age"] == f"{retention.SAVEPOINT_MAX_AGE_DAYS} d"


@pytest.mark.parametrize("overlay", k8s.OVERLAYS)
def test_grafana_gets_the_provisioning_files_where_they_go_and_every_variable_they_name(overlay):
    import re

    from dashboards import render

    from dashboards import provisioning

    docs = _rendered(overlay)
    rendered = render.files(provisioning.KUBERNETES)
    [grafana] = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "grafana"]
    pod = grafana["spec"]["template"]["spec"]
    [container] = pod["containers"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    maps = {v["name"]: v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v}
    configmaps = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
    # Each provisioning file is in Grafana's filesystem where its folder (or the file itself) is mounted.
    for relative, content in rendered.items():
        [(volume, mount)] = [(v, m) for v, m in mounts.items() if v in maps and (
            ("subPath" in m and m["mountPath"] == f"/etc/grafana/provisioning/{relative}") or
            ("subPath" not in m and f"/etc/grafana/provisioning/{relative}".rsplit("/", 1)[0] == m["mountPath"]))]
        assert configmaps[maps[volume]][relative.rsplit("/", 1)[-1]] == content, relative
    assert render.DASHBOARD_PATH_IN_GRAFANA == mounts["dashboards"]["mountPath"]
    # Every ${VARIABLE} the files name is in the container's environment, and nothing else of ours is.
    named = {v for content in rendered.values() for v in re.findall(r"\$\{(RISKSTREAM_[A-Z_]+)\}", content)}
    [env_map] = [name for name in configmaps if name.startswith("riskstream-grafana-env")]
    given = {e["name"] for e in container["env"]} | set(configmaps[env_map])
    assert {v for v in given if v.startswith("RISKSTREAM_")} == named
    assert all("value" not in e for e in container["env"] if e["name"].startswith("RISKSTREAM_"))


def test_only_the_recommender_reaches_the_guard_and_only_clickhouses_clients_reach_clickhouse():
    docs = _rendered("prod")
    policies = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "NetworkPolicy"}
    guard = policies["guard-from-recommender"]
    assert guard["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "guard"}
    assert [s["namespaceSelector"]["matchLabels"] for rule in guard["ingress"] for s in rule["from"]] == [
        {"riskstream.io/guard-client": "true"}, {"kubernetes.io/metadata.name": "monitoring"}]
    clickhouse = policies["clickhouse-from-its-clients"]
    [client_rule, operator_rule] = clickhouse["ingress"]
    label = client_rule["from"][0]["podSelector"]["matchLabels"]
    assert client_rule["ports"] == [{"protocol": "TCP", "port": 8443}]  # HTTPS only; plain HTTP: the operator
    assert operator_rule["from"][0]["podSelector"]["matchLabels"] == {"app": "clickhouse-operator"}

    def pod_labels(doc: dict) -> dict:
        if doc["kind"] == "FlinkDeployment":
            return doc["spec"]["podTemplate"]["metadata"]["labels"]
        if doc["kind"] == "CronJob":
            return doc["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        return doc["spec"]["template"]["metadata"]["labels"]

    workloads = {d["metadata"]["name"]: pod_labels(d) for d in docs
                 if d["kind"] in ("Deployment", "Job", "CronJob", "FlinkDeployment")}
    admitted = {name for name, labels in workloads.items() if label.items() <= labels.items()}
    # The pods that read or write ClickHouse, and only they.
    assert admitted == {"safety-health", "explain-alerts", "bias-findings", "clickhouse-migrate", "grafana"}


def _pod_spec(doc: dict) -> dict:
    if doc["kind"] == "FlinkDeployment":
        return doc["spec"]["podTemplate"]["spec"]
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


@pytest.mark.parametrize("overlay", k8s.OVERLAYS)
def test_clickhouse_is_reached_over_https_and_checked_against_the_ca_of_its_certificates_secret(overlay):
    from urllib.parse import urlparse

    docs = _rendered(overlay)
    env = _env(docs)
    settings = config.ClickHouseSettings(url=env["RISKSTREAM_CLICKHOUSE_URL"],
                                         ca_cert=env["RISKSTREAM_CLICKHOUSE_CA_CERT"])  # a consistent pair
    url = urlparse(settings.url)
    [chi] = [d for d in docs if d["kind"] == "ClickHouseInstallation"]
    configuration = chi["spec"]["configuration"]
    assert url.scheme == "https" and url.port == configuration["settings"]["https_port"]
    assert url.hostname == f"clickhouse-{chi['metadata']['name']}"  # the operator's service for the installation
    [service] = chi["spec"]["templates"]["serviceTemplates"]
    assert chi["spec"]["defaults"]["templates"]["serviceTemplate"] == service["name"]
    assert url.port in {port["port"] for port in service["spec"]["ports"]}
    # The server's certificate and key: files the operator mounts from the Secret, at the paths openSSL names
    # (secrets.d/<file>/<secret>/<key>).
    for setting, file in (("certificateFile", "server.crt"), ("privateKeyFile", "server.key")):
        ref = configuration["files"][file]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "riskstream-clickhouse-tls"
        assert configuration["settings"][f"openSSL/server/{setting}"] == \
            f"/etc/clickhouse-server/secrets.d/{file}/{ref['name']}/{ref['key']}"
    # Every pod that reads or writes ClickHouse (the network policy's clients) has the CA where the setting says.
    clients = [d for d in docs if d["kind"] in ("Deployment", "Job", "CronJob", "FlinkDeployment")
               and d["metadata"]["name"] != "grafana"
               and "riskstream.io/clickhouse-client" in str(d)]
    assert {d["metadata"]["name"] for d in clients} == {"safety-health", "explain-alerts", "bias-findings",
                                                         "clickhouse-migrate"}
    for doc in clients:
        pod = _pod_spec(doc)
        [container] = pod["containers"]
        [mount] = [m for m in container["volumeMounts"] if m["name"] == "clickhouse-ca"]
        assert f"{mount['mountPath']}/ca.crt" == settings.ca_cert, doc["metadata"]["name"]
        [volume] = [v for v in pod["volumes"] if v["name"] == "clickhouse-ca"]
        assert volume["secret"]["secretName"] == "riskstream-clickhouse-tls"
        assert volume["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
    # Grafana gets the same CA's PEM for its data source, which names the same port over TLS.
    [grafana] = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "grafana"]
    [container] = _pod_spec(grafana)["containers"]
    variables = {v["name"]: v for v in container["env"]}
    assert variables["RISKSTREAM_CLICKHOUSE_CA_PEM"]["valueFrom"]["secretKeyRef"] == {
        "name": "riskstream-clickhouse-tls", "key": "ca.crt"}
    [configmap] = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "grafana-datasources"]
    [source] = [s for s in yaml.safe_load(configmap["data"]["riskstream.yaml"])["datasources"]
                if s["type"] == "grafana-clickhouse-datasource"]
    assert (source["jsonData"]["port"], source["jsonData"]["secure"]) == (url.port, True)
    assert source["secureJsonData"]["tlsCACert"] == "${RISKSTREAM_CLICKHOUSE_CA_PEM}"


@pytest.mark.parametrize("overlay", k8s.OVERLAYS)
def test_a_job_applies_the_clickhouse_migrations_with_a_command_the_cli_accepts(overlay):
    from riskstream.cli.main import build_parser

    [job] = [d for d in _rendered(overlay) if d["kind"] == "Job" and d["metadata"]["name"] == "clickhouse-migrate"]
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["args"][0] == "riskstream" and pod["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] > 0  # ClickHouse may still be starting: retried
    args = build_parser().parse_args(container["args"][1:])
    assert args.handler.__module__ == "riskstream.cli.migrate_command"
    [source] = container["envFrom"]
    assert source["configMapRef"]["name"].startswith("riskstream-env")  # the ClickHouse URL, user and CA
