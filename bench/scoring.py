"""Choose how the job calls Triton, by measurement: a vectorized pandas UDF against PyFlink async I/O and
against Flink's own ML_PREDICT.

    .venv/bin/python -m bench.scoring [--rows 20000] [--capacity 1000] [--linger-ms 5]
                                      [--strategies pandas,async,ml_predict]

The same captions go through one job per strategy on a local MiniCluster, against the local stack's Triton:
  baseline    source -> discard (no scoring): start-up and plumbing, subtracted from the others;
  pandas      source -> pandas UDF (one Triton call per Arrow batch, as the job does) -> discard;
  async       source -> async function that gathers concurrent calls into micro-batches -> discard;
  ml_predict  source -> Flink SQL ML_PREDICT with flink-model-triton (bench/peers/ml_predict.py: one HTTP
              request per row, `--capacity` in flight) -> discard.
Rows/s = rows / (t_strategy - t_baseline), all in one session, with Triton's own count of the captions
it inferred per strategy (each strategy must infer every caption once).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import time

from pyflink.common import Time, Types
from pyflink.datastream import AsyncDataStream
from pyflink.datastream.functions import AsyncFunction, RuntimeContext
from pyflink.table import DataTypes
from pyflink.table.udf import udf

from riskstream.io.triton_client import triton_counts
from jobs import clickhouse_sink, runtime
from jobs.smoke import MaxSafetyScore
from riskstream.core import captions as caption_store
from riskstream.core.config import StackSettings, TritonSettings
from riskstream.cli.demo import local_services
from riskstream.stack import manager
from riskstream.io.scoring import SafetyScorer
from riskstream.io import stack_state as state
from bench.peers import ml_predict

STRATEGIES = {"pandas", "async", "ml_predict"}


class MicroBatchingScore(AsyncFunction):
    """Async I/O: each call waits on a shared batch that is sent when full or `linger_s` after it opened."""

    def __init__(self, triton: TritonSettings, batch: int, linger_s: float = 0.005):
        self.triton = triton
        self.batch = batch
        self.linger_s = linger_s

    def open(self, runtime_context: RuntimeContext) -> None:
        self.scorer = SafetyScorer(self.triton)
        self.scorer.open()
        self.pending: list[tuple[str, asyncio.Future]] = []

    async def async_invoke(self, value):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.append((value, future))
        if len(self.pending) >= self.batch:
            self._send(loop)
        elif len(self.pending) == 1:
            loop.call_later(self.linger_s, self._send, loop)
        return [await future]

    def _send(self, loop) -> None:
        batch, self.pending = self.pending, []
        if batch:
            loop.create_task(self._score(loop, batch))

    async def _score(self, loop, batch) -> None:
        scores = await loop.run_in_executor(None, self.scorer.score, [text for text, _ in batch])
        for i, (_, future) in enumerate(batch):
            future.set_result(None if scores is None else float(scores[i].max()))

    def close(self) -> None:
        self.scorer.close()


def _timed(strategy: str, texts: list[str], triton: TritonSettings, triton_http_url: str, capacity: int,
           linger_ms: float) -> tuple[float, float, int]:
    """(seconds the job took, mean captions per Triton execution, captions Triton inferred)."""
    env, t_env, _ = runtime.create(extra_jars=tuple(ml_predict.extra_jars()) if strategy == "ml_predict" else ())
    stream = env.from_collection(texts, type_info=Types.STRING())
    if strategy == "pandas":
        score = udf(MaxSafetyScore(triton), result_type=DataTypes.DOUBLE(), func_type="pandas")
        table = t_env.from_data_stream(stream).alias("caption")
        stream = t_env.to_data_stream(table.select(score(table.caption)))
    elif strategy == "async":
        stream = AsyncDataStream.unordered_wait(stream, MicroBatchingScore(triton, batch=capacity, linger_s=linger_ms / 1000),
                                                Time.seconds(60), capacity=capacity, output_type=Types.DOUBLE())
    elif strategy == "ml_predict":
        t_env.get_config().set("table.exec.async-ml-predict.max-concurrent-operations", str(capacity))
        t_env.create_temporary_view("captions", t_env.from_data_stream(stream).alias("caption"))
        ml_predict.create_model(t_env, "safety", triton_http_url, triton.model_name)
        stream = t_env.to_data_stream(ml_predict.predict(t_env, "safety", "captions", "caption"))
    stream.sink_to(clickhouse_sink.discarding_sink())
    before = triton_counts(triton.url, triton.model_name)
    started = time.monotonic()
    env.execute(f"bench-scoring-{strategy}")
    seconds = time.monotonic() - started
    after = triton_counts(triton.url, triton.model_name)
    return seconds, (after[0] - before[0]) / max(after[1] - before[1], 1), after[0] - before[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--capacity", type=int, default=1_000, help="async: requests in flight (and batch size)")
    parser.add_argument("--linger-ms", type=float, default=5.0, help="async: how long a batch waits to fill")
    parser.add_argument("--strategies", default="pandas,async,ml_predict",
                        help="which to run beside the baseline, comma-separated (pandas first: the others' ratio)")
    args = parser.parse_args(argv)
    strategies = [s for s in args.strategies.split(",") if s]
    unknown = set(strategies) - STRATEGIES
    if unknown:
        parser.error(f"unknown strategies {sorted(unknown)}; choose from {sorted(STRATEGIES)}")
    stack = StackSettings()
    manager.up(stack)
    triton = local_services(stack).triton
    triton_http_url = f"http://127.0.0.1:{state.load(stack.state_dir)['triton'].details['http_port']}"
    pool = [c.text for c in caption_store.load()]
    texts = [pool[i % len(pool)] for i in range(args.rows)]

    runs = {s: _timed(s, texts, triton, triton_http_url, args.capacity, args.linger_ms)
            for s in ("baseline", *strategies)}
    print(f"bench.scoring --rows {args.rows} --capacity {args.capacity} --linger-ms {args.linger_ms:g}: "
          f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs; baseline (no scoring) {runs['baseline'][0]:.1f}s")
    print("| strategy | rows/s net of the baseline | mean Triton batch | captions Triton inferred | x the first |")
    print("| --- | --- | --- | --- | --- |")
    rates = {s: args.rows / max(runs[s][0] - runs["baseline"][0], 1e-9) for s in strategies}
    for strategy, rate in rates.items():
        print(f"| {strategy} | {rate:,.0f} | {runs[strategy][1]:,.0f} | {runs[strategy][2]:,} | "
              f"{rate / rates[strategies[0]]:.2f} |")
    missed = [s for s in strategies if runs[s][2] < args.rows]
    if missed:
        print(f"WARNING: Triton inferred fewer captions than rows for {missed}: not every row was scored")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
