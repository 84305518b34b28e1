"""Kafka topics as Flink SQL tables of raw records: key and value as bytes (decoding and dead letters are the
job's), where each record came from, and event-time watermarks from the record timestamp."""
from __future__ import annotations

from pyflink.table import StreamTableEnvironment

from riskstream.core.config import KafkaSecurity, KafkaSettings

# Flink's SQL Kafka connector JAR shades Kafka's client: JAAS must name the login modules by their shaded class.
_SHADED = "org.apache.flink.kafka.shaded.org.apache.kafka.common.security"
_LOGIN_MODULES = {"PLAIN": f"{_SHADED}.plain.PlainLoginModule", "SCRAM-SHA-256": f"{_SHADED}.scram.ScramLoginModule",
                  "SCRAM-SHA-512": f"{_SHADED}.scram.ScramLoginModule"}


def _jaas_quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def security_properties(security: KafkaSecurity) -> dict[str, str]:
    """Kafka's Java client properties for `security` (empty for PLAINTEXT); the CA as a PEM truststore."""
    found: dict[str, str] = {}
    if security.protocol != "PLAINTEXT":
        found["security.protocol"] = security.protocol
    if security.sasl:
        found["sasl.mechanism"] = security.sasl_mechanism
        found["sasl.jaas.config"] = (f"{_LOGIN_MODULES[security.sasl_mechanism]} required "
                                     f"username={_jaas_quoted(security.username)} "
                                     f"password={_jaas_quoted(str(security.password))};")
    if security.ca_location:
        found.update({"ssl.truststore.type": "PEM", "ssl.truststore.location": security.ca_location})
    return found


def connection(kafka: KafkaSettings) -> dict[str, str]:
    """The connector's `properties.*` options that reach and authenticate to the brokers."""
    return {"properties.bootstrap.servers": kafka.bootstrap_servers,
            **{f"properties.{key}": value for key, value in security_properties(kafka.security).items()}}


def render(options: dict[str, str]) -> str:
    """WITH options as SQL string literals (a quote in a value, a password's say, doubled)."""
    return ",\n".join(f"'{key}' = '{str(value).replace(chr(39), chr(39) * 2)}'" for key, value in options.items())


def _offsets(offsets: dict[int, int]) -> str:
    return ";".join(f"partition:{p},offset:{o}" for p, o in sorted(offsets.items()))


def options(topic: str, kafka: KafkaSettings, group_id: str, start_offsets: dict[int, int] | None = None,
            end_offsets: dict[int, int] | None = None, bounded: bool = False, start_ms: int | None = None) -> str:
    """The Kafka connector's WITH options: from `start_offsets`, else from the first record timestamped at or
    after `start_ms`, else from the earliest; until `end_offsets`, or, `bounded`, until the offsets present
    when the job starts. (A job restored from a checkpoint starts where its sources' state says.)"""
    found = {"connector": "kafka", "topic": topic, **connection(kafka), "properties.group.id": group_id,
             "key.format": "raw", "key.fields": "record_key", "value.format": "raw",
             "value.fields-include": "EXCEPT_KEY"}
    if start_offsets:
        found["scan.startup.mode"] = "specific-offsets"
        found["scan.startup.specific-offsets"] = _offsets(start_offsets)
    elif start_ms is not None:
        found["scan.startup.mode"] = "timestamp"
        found["scan.startup.timestamp-millis"] = str(start_ms)
    else:
        found["scan.startup.mode"] = "earliest-offset"
    if end_offsets:
        found["scan.bounded.mode"] = "specific-offsets"
        found["scan.bounded.specific-offsets"] = _offsets(end_offsets)
    elif bounded:
        found["scan.bounded.mode"] = "latest-offset"
    return render(found)


def lag(column: str, ms: int) -> str:
    """Watermark expression: the column minus the bound (SECOND's default precision stops at 99)."""
    seconds = ms // 1000
    return f"{column} - INTERVAL '{seconds}' SECOND({max(2, len(str(seconds)))})"


def create_raw_table(t_env: StreamTableEnvironment, name: str, with_options: str, out_of_orderness_ms: int) -> str:
    """Register `name`: record_key, payload, headers, source_topic/partition/offset/timestamp, watermarks
    `out_of_orderness_ms` behind the record timestamps; returns the name."""
    t_env.execute_sql(f"""
        CREATE TEMPORARY TABLE {name} (
            record_key BYTES,
            payload BYTES,
            headers MAP<STRING, BYTES> METADATA FROM 'headers' VIRTUAL,
            source_topic STRING METADATA FROM 'topic' VIRTUAL,
            source_partition INT METADATA FROM 'partition' VIRTUAL,
            source_offset BIGINT METADATA FROM 'offset' VIRTUAL,
            source_timestamp TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
            WATERMARK FOR source_timestamp AS {lag("source_timestamp", out_of_orderness_ms)}
        ) WITH ({with_options})""")
    return name
