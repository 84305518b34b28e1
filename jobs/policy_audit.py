"""Audit every record of the policies topic from inside the job: publications, rollbacks, and records the
job ignores because they are not valid policies. A source of its own (the topic from its first offset,
bounded when the job is), one audit row per record for the ClickHouse sink; its `audit_id` is the
record's topic and offset, so every job and every replay writes the same row once."""
from __future__ import annotations

from pyflink.datastream import DataStream
from pyflink.datastream.functions import MapFunction
from pyflink.table import StreamTableEnvironment

from jobs import kafka_tables
from jobs.sink_rows import SINK_ROW, sink_row
from riskstream.core.times import epoch_ms
from riskstream.core.config import KafkaSettings
from riskstream.core.job_config import HealthJobSettings
from udfs import audit, policy_log


class PolicyAudit(MapFunction):
    def __init__(self, topic: str, categories: tuple[str, ...], job_id: str):
        self.topic = topic
        self.categories = categories
        self.job_id = job_id

    def map(self, value):
        # The same checks the job's policy timeline makes, so "ignored" here means ignored there.
        publication = policy_log.decode(value["record_offset"], value["key"], value["value"], self.topic,
                                        self.categories)
        record = audit.from_publication(publication, self.topic, epoch_ms(value["record_time"]), self.job_id)
        return sink_row("audit_log", record.values())


def policy_audit(t_env: StreamTableEnvironment, kafka: KafkaSettings, job: HealthJobSettings,
                 categories: tuple[str, ...]) -> DataStream:
    """Audit rows (typed rows for the ClickHouse sink) of every record of the policies topic."""
    options = {"connector": "kafka", "topic": kafka.policies_topic, **kafka_tables.connection(kafka),
               "properties.group.id": f"riskstream-{job.job_id}-policy-audit",
               "key.format": "raw", "key.fields": "key", "value.format": "raw", "value.fields-include": "EXCEPT_KEY",
               "scan.startup.mode": "earliest-offset"}
    if job.bounded or job.end_offsets:
        options["scan.bounded.mode"] = "latest-offset"
    with_options = kafka_tables.render(options)
    t_env.execute_sql(f"""
        CREATE TEMPORARY TABLE policy_records (
            `key` BYTES, `value` BYTES,
            `record_offset` BIGINT METADATA FROM 'offset' VIRTUAL,
            `record_time` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL
        ) WITH ({with_options})""")
    records = t_env.to_data_stream(t_env.from_path("policy_records"))
    return records.map(PolicyAudit(kafka.policies_topic, categories, job.job_id), output_type=SINK_ROW) \
        .name("policy-audit").uid("policy-audit")
