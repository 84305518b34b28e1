"""Kafka security settings: validated where they are built, rendered for librdkafka and for Kafka's Java client
inside Flink's connector (shaded), and the table of who may do what."""
from __future__ import annotations

import pytest

from jobs import kafka_tables
from riskstream.core import kafka_access
from riskstream.core.config import KafkaSecurity, KafkaSettings, Secret, describe
from riskstream.core.errors import ConfigError
from riskstream.io import kafka_acls, kafka_clients

KAFKA = KafkaSettings(bootstrap_servers="broker:9093")


def test_security_settings_are_refused_with_the_option_at_fault():
    with pytest.raises(ConfigError, match="--kafka-security-protocol 'SASL'"):
        KafkaSecurity(protocol="SASL")
    with pytest.raises(ConfigError, match="--kafka-sasl-password .or RISKSTREAM_KAFKA_SASL_PASSWORD"):
        KafkaSecurity(protocol="SASL_SSL", username="riskstream-job")
    with pytest.raises(ConfigError, match="--kafka-sasl-mechanism 'GSSAPI'"):
        KafkaSecurity(protocol="SASL_PLAINTEXT", sasl_mechanism="GSSAPI", username="u", password=Secret("p"))
    with pytest.raises(ConfigError, match="--kafka-ssl-ca-location is set but .* SASL_PLAINTEXT"):
        KafkaSecurity(protocol="SASL_PLAINTEXT", username="u", password=Secret("p"), ca_location="/ca.crt")


def test_no_security_adds_nothing_to_either_client():
    assert kafka_clients.config("broker:9092", {"group.id": "g"}) == {
        "bootstrap.servers": "broker:9092", "logger": kafka_clients.CLIENT_LOG, "group.id": "g"}
    assert kafka_tables.connection(KAFKA) == {"properties.bootstrap.servers": "broker:9093"}


def test_scram_over_tls_for_librdkafka_and_for_flinks_shaded_java_client():
    secured = KafkaSettings("broker:9093", security=KafkaSecurity(
        "SASL_SSL", "SCRAM-SHA-512", "riskstream-job", Secret('pa"ss\\word\'1'), "/etc/kafka-ca/ca.crt"))
    assert kafka_clients.config(secured) == {
        "bootstrap.servers": "broker:9093", "logger": kafka_clients.CLIENT_LOG, "security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": "riskstream-job", "sasl.password": 'pa"ss\\word\'1', "ssl.ca.location": "/etc/kafka-ca/ca.crt"}
    assert kafka_tables.connection(secured) == {
        "properties.bootstrap.servers": "broker:9093",
        "properties.security.protocol": "SASL_SSL",
        "properties.sasl.mechanism": "SCRAM-SHA-512",
        # JAAS quoting: a quote and a backslash in the password escaped, so it cannot end the value early.
        "properties.sasl.jaas.config": "org.apache.flink.kafka.shaded.org.apache.kafka.common.security.scram."
                                       'ScramLoginModule required username="riskstream-job" '
                                       'password="pa\\"ss\\\\word\'1";',
        "properties.ssl.truststore.type": "PEM",
        "properties.ssl.truststore.location": "/etc/kafka-ca/ca.crt"}
    # In SQL, a quote in a value is doubled; the password never shows in printed settings.
    assert "password=\"pa\\\"ss\\\\word''1\";'" in kafka_tables.render(kafka_tables.connection(secured))
    assert "pa\"ss" not in describe(secured) and "password = '***'" in describe(secured)


def _grants(user: str, topic: str) -> set[str]:
    return {op for grant in kafka_access.user(KAFKA, user).grants
            if grant.resource == "topic" and grant.name == topic for op in grant.operations}


def test_only_the_publisher_writes_policies_and_the_job_writes_only_its_outputs():
    writers = {topic: {u.name for u in kafka_access.users(KAFKA) if "Write" in _grants(u.name, topic)}
               for topic in (KAFKA.impressions_topic, KAFKA.policies_topic, KAFKA.dead_letter_topic,
                             KAFKA.item_verdicts_topic, KAFKA.breaker_state_topic, KAFKA.forget_requests_topic,
                             KAFKA.moderation_labels_topic)}
    assert writers == {
        KAFKA.impressions_topic: {"riskstream-producer"},
        KAFKA.policies_topic: {"riskstream-policy-publisher"},
        KAFKA.dead_letter_topic: {"riskstream-job"},
        KAFKA.item_verdicts_topic: {"riskstream-job", "riskstream-operator"},  # the operator's forget tombstones
        KAFKA.breaker_state_topic: {"riskstream-job"},
        KAFKA.forget_requests_topic: {"riskstream-operator"},
        KAFKA.moderation_labels_topic: {"riskstream-review-tool"}}
    guard_topics = {g.name for g in kafka_access.user(KAFKA, "riskstream-guard").grants if g.resource == "topic"}
    assert guard_topics == {KAFKA.item_verdicts_topic, KAFKA.breaker_state_topic, KAFKA.policies_topic}
    assert all("Write" not in g.operations for g in kafka_access.user(KAFKA, "riskstream-guard").grants)


def test_grants_become_kafkas_acl_bindings():
    bindings = kafka_acls.bindings(kafka_access.user(KAFKA, "riskstream-guard"))
    rendered = {(b.restype.name, b.name, b.resource_pattern_type.name, b.principal, b.operation.name)
                for b in bindings}
    assert ("TOPIC", KAFKA.item_verdicts_topic, "LITERAL", "User:riskstream-guard", "DESCRIBE_CONFIGS") in rendered
    assert ("GROUP", "riskstream-guard", "PREFIXED", "User:riskstream-guard", "READ") in rendered
    assert len(rendered) == len(bindings) == 3 * 3 + 2
