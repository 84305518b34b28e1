"""Service clients: Kafka admin, ClickHouse, Triton, checkpoints."""
