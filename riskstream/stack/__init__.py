"""The local stack of real services on 127.0.0.1: Kafka, Triton, embedded ClickHouse."""
