"""The real Apache Kafka broker, single node in KRaft mode, run from the JARs pinned in jars/."""
from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from pathlib import Path

from riskstream.io import jars, kafka_acls, kafka_admin, processes
from riskstream.core import kafka_access
from riskstream.core.config import KAFKA_CONTROLLER_PORT, KAFKA_PORT, KafkaSettings, StackSettings
from riskstream.core.errors import ConfigError, MissingTool, ServiceFailedToStart
from riskstream.stack import kafka_tls, kafka_users, process
from riskstream.io.stack_state import ServiceRecord

NAME = "kafka"

_LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = WARN
logger.controller.name = org.apache.kafka.controller
logger.controller.level = WARN
"""


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise MissingTool("java was not found on PATH: the Kafka broker needs Java 17+ "
                          "(apt-get install openjdk-17-jre-headless)")
    return java


def _jaas(module: str, user: str, password: str, **extra: str) -> str:
    fields = " ".join(f'{key}="{value}"' for key, value in {"username": user, "password": password, **extra}.items())
    return f"org.apache.kafka.common.security.{module} required {fields};"


def _scram_properties(port: int, controller_port: int, admin_password: str,
                      certificates: kafka_tls.Certificates) -> dict[str, str]:
    """TLS and SASL/SCRAM-SHA-512 on the clients' listener (inter-broker traffic too, as the admin), as Strimzi's
    listener on Kubernetes, and ACLs enforced (nothing allowed without a grant). The controller's listener,
    which SCRAM cannot serve (its credentials live in the metadata the controller itself serves),
    authenticates with PLAIN and a password of its own, on 127.0.0.1 only."""
    admin = kafka_access.ADMIN
    return {
        "listeners": f"CLIENTS://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"CLIENTS://127.0.0.1:{port}",
        "inter.broker.listener.name": "CLIENTS",
        "listener.security.protocol.map": "CONTROLLER:SASL_PLAINTEXT,CLIENTS:SASL_SSL",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(certificates.keystore),
        "ssl.truststore.type": "PEM",  # the broker is its own client between its roles
        "ssl.truststore.location": str(certificates.ca),
        "sasl.enabled.mechanisms": kafka_users.MECHANISM,
        "sasl.mechanism.inter.broker.protocol": kafka_users.MECHANISM,
        "listener.name.clients.scram-sha-512.sasl.jaas.config": _jaas("scram.ScramLoginModule", admin, admin_password),
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": _jaas("plain.PlainLoginModule", admin, admin_password,
                                                                 **{f"user_{admin}": admin_password}),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"User:{admin}",
        "allow.everyone.if.no.acl.found": "false",
    }


def _server_properties(data_dir: Path, port: int, controller_port: int, admin_password: str | None = None,
                       certificates: kafka_tls.Certificates | None = None) -> str:
    # One node is broker and controller; replication factors of internal topics must be 1.
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir),
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
    }
    if admin_password is not None and certificates is not None:
        settings.update(_scram_properties(port, controller_port, admin_password, certificates))
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def start(settings: StackSettings, previous: ServiceRecord | None) -> ServiceRecord:
    """Start the broker (formatting its storage on first use) and wait until it answers."""
    home = settings.state_dir / NAME
    data_dir = home / "data"
    log_path = settings.state_dir / "logs" / "kafka.log"
    java = _java()
    classpath = ":".join(str(jar) for jar in jars.ensure("kafka-broker"))

    # Keep the ports of an earlier run of this state folder when they were picked automatically.
    port, controller_port = settings.kafka_port, settings.kafka_controller_port
    if previous and port == 0:
        port = int(previous.details.get("port", 0))
    if previous and controller_port == 0:
        controller_port = int(previous.details.get("controller_port", 0))
    port = process.claim_port(port, "Kafka", KAFKA_PORT.env)
    controller_port = process.claim_port(controller_port, "Kafka controller", KAFKA_CONTROLLER_PORT.env)

    home.mkdir(parents=True, exist_ok=True)
    properties = home / "server.properties"
    scram = settings.kafka_auth == "scram"
    passwords = kafka_users.ensure_passwords(settings.state_dir) if scram else {}
    formatted_auth = (previous.details.get("auth", "none") if previous else "none")
    if (data_dir / "meta.properties").exists() and formatted_auth != settings.kafka_auth:
        raise ConfigError(f"the broker's data in {data_dir} was made with --kafka-auth {formatted_auth}: start it "
                          f"that way, or use another --state-dir for --kafka-auth {settings.kafka_auth}")
    properties.touch(mode=0o600)  # it holds the admin's password under --kafka-auth scram
    certificates = kafka_tls.ensure(kafka_tls.folder(settings.state_dir)) if scram else None
    properties.write_text(_server_properties(data_dir, port, controller_port, passwords.get(kafka_access.ADMIN),
                                             certificates))
    log4j = home / "log4j2.properties"
    log4j.write_text(_LOG4J2)
    jvm = [java, f"-Xmx{settings.kafka_heap}", "-Djava.awt.headless=true",
           f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath]

    if not (data_dir / "meta.properties").exists():
        # `--cluster-id=ID` in one argument: a random id may start with "-", which would read as a flag.
        # The admin's SCRAM credential goes in with the cluster's first metadata: the broker needs it to talk to
        # itself before anyone could create it.
        admin = [f"--add-scram={kafka_users.MECHANISM}=[name={kafka_access.ADMIN},"
                 f"password={passwords[kafka_access.ADMIN]}]"] if scram else []
        formatted = subprocess.run(jvm + ["kafka.tools.StorageTool", "format", f"--cluster-id={new_cluster_id()}",
                                          "-c", str(properties), *admin], capture_output=True, text=True)
        if formatted.returncode != 0:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text(formatted.stdout + formatted.stderr)
            raise ServiceFailedToStart("Kafka", str(log_path), "formatting its storage failed")

    pid = process.spawn(jvm + ["kafka.Kafka", str(properties)], log_path)
    address = f"127.0.0.1:{port}"
    admin = _admin(settings.state_dir, address) if scram else address
    process.wait_ready("Kafka", pid, log_path, lambda: kafka_admin.is_ready(admin), timeout_s=90)
    if scram:
        kafka_acls.apply(admin, kafka_access.users(KafkaSettings(address)), passwords)
    return ServiceRecord(pid=pid, address=address, log_path=str(log_path),
                         details={"port": str(port), "controller_port": str(controller_port),
                                  "auth": settings.kafka_auth, "state_dir": str(settings.state_dir)})


def _admin(state_dir: Path, address: str) -> KafkaSettings:
    return kafka_users.as_user(KafkaSettings(address), state_dir, kafka_access.ADMIN)


def admin_settings(record: ServiceRecord) -> KafkaSettings | str:
    """How the stack itself reaches its broker: as the admin under --kafka-auth scram, else by address."""
    if record.details.get("auth", "none") == "scram":
        return _admin(Path(record.details["state_dir"]), record.address)
    return record.address


def is_healthy(record: ServiceRecord) -> bool:
    return processes.pid_alive(record.pid) and kafka_admin.is_ready(admin_settings(record))
