"""Flink's own scoring path as a peer: `ML_PREDICT` with the Triton model provider of `flink-model-triton`.

The pinned 2.3.0 JAR (Maven Central, checksum in jars/jars.lock) cannot create a model as released: its
schema check is inverted and its function holds a non-serializable buffer. `bench/peers/java/` wraps it
as provider `triton-validated` (ValidatedTritonModelProviderFactory: the same options, function and
provider, with the check corrected and the buffer cleared); nothing else changes. Our model takes TEXT
of dims [1] with a batch dimension, so the model's input is ARRAY<STRING> (one caption per array):
Triton then gets the shape [1, 1] it expects. Each row is one HTTP request (2.3.0 has no client-side
batching); Triton's dynamic batcher gathers what arrives together.
"""
from __future__ import annotations

from pathlib import Path

from riskstream.core import paths
from riskstream.io import jars, java_build

WRAPPER = "riskstream-bench-ml-predict"
WRAPPER_SOURCES = paths.REPO_ROOT / "bench" / "peers" / "java"
PROVIDER = "triton-validated"


def extra_jars() -> list[Path]:
    """flink-model-triton and the wrapper, for `pipeline.jars`."""
    model_jars = jars.ensure("flink-model-triton")
    classpath = [*java_build.compile_classpath(), java_build.flink_jar("lib/flink-table-api-java-uber-*.jar"),
                 *model_jars]
    return [*model_jars, java_build.build(WRAPPER, WRAPPER_SOURCES, classpath)]


def create_model(t_env, name: str, triton_http_url: str, model_name: str, timeout_s: float = 30.0) -> None:
    """CREATE MODEL `name`: captions (one per ARRAY<STRING>) in, the model's category scores out."""
    t_env.execute_sql(f"""
        CREATE TEMPORARY MODEL {name} INPUT (TEXT ARRAY<STRING>) OUTPUT (SCORES ARRAY<FLOAT>) WITH (
            'provider' = '{PROVIDER}', 'endpoint' = '{triton_http_url.rstrip("/")}/v2/models',
            'model-name' = '{model_name}', 'model-version' = '1', 'timeout' = '{int(timeout_s)}s')""")


def predict(t_env, model: str, captions_view: str, caption_column: str):
    """ML_PREDICT over a view of captions: a table of (TEXT, SCORES)."""
    t_env.execute_sql(f"CREATE TEMPORARY VIEW {captions_view}_as_text AS "
                      f"SELECT ARRAY[{caption_column}] AS TEXT FROM {captions_view}")
    return t_env.sql_query(f"SELECT TEXT, SCORES FROM ML_PREDICT(TABLE {captions_view}_as_text, MODEL {model}, "
                           f"DESCRIPTOR(TEXT))")
