"""Who may do what on Kafka, on a broker that asks for it: the local broker started by the stack's code with
SASL/SCRAM-SHA-512 and ACLs (`--kafka-auth scram`), its users and grants from `riskstream.core.kafka_access`.

It speaks TLS only (a CA of the state folder's own signs its certificate), like Strimzi's listener. The job
runs against it as `riskstream-job` and writes the reference rows; a client without credentials,
or with a wrong password, is refused with the address and the reason; a user outside its grants (the job
or the guard writing policies, the guard reading impressions) is refused by name. The same settings with
no credentials are what every other test runs with, against the stack's broker without SASL.
"""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from confluent_kafka import KafkaError
from confluent_kafka.admin import AdminClient

from jobs import safety_health
from riskstream.cli import policy_store
from riskstream.core import paths
from riskstream.core.config import StackSettings
from riskstream.core.errors import NotAuthorized, ServiceUnavailable
from riskstream.core.job_config import HealthJobSettings
from riskstream.io import kafka_admin, kafka_clients, stack_state, topic_records, topics
from riskstream.stack import guard, kafka, kafka_users, manager, process, watchdog
from tests.e2e import kafka_io, reference, stream

START_MS = 1_768_003_200_000  # 2026-01-10T00:00:00Z


@pytest.fixture(scope="module")
def secured(services, tmp_path_factory):
    """The session's services, but Kafka is a broker of its own that wants SCRAM credentials (the session's
    stays as it is for every other test); yields (services without credentials, its state folder)."""
    settings = StackSettings(state_dir=tmp_path_factory.mktemp("scram"), kafka_port=0, kafka_controller_port=0,
                             kafka_auth="scram")
    dog = watchdog.start(os.getpid(), settings.state_dir)
    try:
        record = kafka.start(settings, None)
        stack_state.save(settings.state_dir, {kafka.NAME: record})
        plain = dataclasses.replace(services, kafka=dataclasses.replace(services.kafka,
                                                                        bootstrap_servers=record.address))
        # Topics are the admin's to create (on Kubernetes, the Topic Operator's from KafkaTopics).
        kafka_admin.ensure_topics(kafka.admin_settings(record), topics.specs(plain.kafka))
        yield plain, settings
    finally:
        manager.down(settings)
        os.kill(dog, 9)


def _as(services, settings: StackSettings, user: str):
    return dataclasses.replace(services, kafka=kafka_users.as_user(services.kafka, settings.state_dir, user))


def test_clients_without_valid_credentials_are_refused_with_the_address_and_the_reason(secured):
    services, settings = secured
    state_dir = settings.state_dir
    address = services.kafka.bootstrap_servers
    with pytest.raises(ServiceUnavailable, match=f"{address}: .*does it require SASL or TLS"):
        kafka_admin.require_ready(services.kafka)                          # no credentials, no TLS
    right = kafka_users.as_user(services.kafka, state_dir, "riskstream-job")
    untrusting = dataclasses.replace(right, security=dataclasses.replace(right.security, ca_location=""))
    with pytest.raises(ServiceUnavailable, match=f"{address}: the TLS handshake failed"):
        kafka_admin.require_ready(untrusting)                              # the system's CAs did not sign it
    wrong = kafka_users.as_user(services.kafka, state_dir, "riskstream-job")
    wrong = dataclasses.replace(wrong, security=dataclasses.replace(wrong.security, password="not-the-password"))
    with pytest.raises(ServiceUnavailable, match=f"{address}: the broker refused the credentials of user "
                                                 f"riskstream-job"):
        kafka_admin.require_ready(wrong)
    kafka_admin.require_ready(_as(services, settings, "riskstream-job").kafka)   # the right ones pass


def test_each_user_may_do_what_its_grants_say_and_nothing_else(secured):
    services, settings = secured
    state_dir = settings.state_dir
    kafka = services.kafka
    for user in ("riskstream-job", "riskstream-guard"):                  # only the publisher writes policies
        with pytest.raises(NotAuthorized, match=f"refused Write on topic {kafka.policies_topic} to user {user}"):
            topic_records.write(_as(services, settings, user).kafka, kafka.policies_topic, [(b"k", b"v")])
    with pytest.raises(NotAuthorized, match="refused Write on topic .* to user riskstream-producer"):
        topic_records.write(_as(services, settings, "riskstream-producer").kafka, kafka.item_verdicts_topic,
                            [(b"item", b"forged verdict")])
    # The guard reads verdicts, breaker state and policies, not impressions: the broker will not even describe
    # those to it.
    guard = AdminClient(kafka_clients.config(_as(services, settings, "riskstream-guard").kafka))
    seen = guard.list_topics(timeout=15).topics
    assert {kafka.item_verdicts_topic, kafka.breaker_state_topic, kafka.policies_topic} <= set(seen)
    assert kafka.impressions_topic not in seen and kafka.forget_requests_topic not in seen
    asked = guard.list_topics(kafka.impressions_topic, timeout=15).topics[kafka.impressions_topic]
    assert asked.error is not None and asked.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, asked.error


def test_the_job_runs_as_its_user_and_writes_the_reference_rows(secured, stack, tmp_path):
    services, settings = secured
    state_dir = settings.state_dir
    job_user = _as(services, settings, "riskstream-job")
    # The first policy version: published by the publisher, as a user runs it (its password in the environment).
    published = subprocess.run(
        [sys.executable, "-m", "riskstream.cli.main", "policy", "publish", str(paths.DEFAULT_POLICY),
         "--reason", "first version on a secured cluster", "--kafka-bootstrap", services.kafka.bootstrap_servers,
         "--state-dir", str(stack.state_dir)],
        capture_output=True, text=True, cwd=paths.REPO_ROOT, timeout=120,
        env=kafka_users.environment(state_dir, "riskstream-policy-publisher"))
    assert published.returncode == 0, published.stdout + published.stderr
    assert kafka_users.passwords(state_dir)["riskstream-policy-publisher"] not in published.stdout + published.stderr

    records = stream.records(97, 900, START_MS)
    producer = kafka_users.as_user(services.kafka, state_dir, "riskstream-producer")
    positions = kafka_io.send(producer, services.kafka.impressions_topic,
                              [(r["user_id_hash"].encode(), stream.CODEC.encode(r), r["event_time"]) for r in records])
    job_id = f"e2e-scram-{uuid.uuid4().hex[:6]}"
    safety_health.run(job_user, HealthJobSettings(bounded=True, job_id=job_id, checkpoint_dir=tmp_path / "cp",
                                                  checkpoint_interval_ms=1_000, state_dir=tmp_path / "runs"))
    reference.assert_rows_equal(services, job_id, records, positions)
    assert policy_store.active(policy_store.history(job_user.kafka)).reason == "first version on a secured cluster"


def test_the_stacks_guard_follows_its_topics_as_the_guard_user_its_password_kept_off_its_command_line(secured):
    services, settings = secured
    record = guard.start(dataclasses.replace(settings, guard_port=0), None)
    try:
        assert guard.is_healthy(record)                       # ready: it has read both its topics to their ends
        command_line = Path(f"/proc/{record.pid}/cmdline").read_bytes().decode()
        assert "riskstream-guard" not in command_line
        assert kafka_users.passwords(settings.state_dir)["riskstream-guard"] not in command_line
    finally:
        process.terminate(record.pid)
