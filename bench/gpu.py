"""The job on a GPU: Triton with the model's GPU configuration; the model alone, the loop and the job on it.

    .venv/bin/python -m bench.gpu --events 400000                        # on a host with an NVIDIA GPU
    .venv/bin/python -m bench.gpu --events 20000 --model-config default  # the same steps on a CPU

Starts a stack of its own (free ports, a state folder of its own, stopped at the end) whose Triton loads
the model with `--model-config-name=gpu` (model_repository/safety_text/configs/gpu.pbtxt: KIND_GPU,
dynamic batching; `default` loads config.pbtxt), then runs bench.compare on it: one backlog, the model
alone on the backlog's captions (Triton's ceiling), the hand-written loop and the job, with the job's
share of the ceiling. With the GPU configuration, `nvidia-smi` must list a GPU first.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.compare import compare
from riskstream.core.config import StackSettings
from riskstream.stack import manager


def gpus() -> list[str]:
    """The GPUs `nvidia-smi -L` lists; empty without a driver or a GPU."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    listed = subprocess.run([smi, "-L"], capture_output=True, text=True)
    return [line for line in listed.stdout.splitlines() if line.startswith("GPU ")] if listed.returncode == 0 else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--model-config", default="gpu",
                        help="the model configuration Triton loads: gpu (configs/gpu.pbtxt) or default (config.pbtxt)")
    args = parser.parse_args(argv)
    found = gpus()
    if args.model_config != "default" and not found:
        parser.error("no GPU: nvidia-smi lists none (use --model-config default to run the same steps on a CPU)")
    print("GPUs: " + ("; ".join(found) if found else "none (CPU run)"), flush=True)
    with tempfile.TemporaryDirectory(prefix="riskstream-bench-gpu-") as folder:
        stack = StackSettings(state_dir=Path(folder), kafka_port=0, kafka_controller_port=0, triton_http_port=0,
                              triton_grpc_port=0, triton_metrics_port=0, registry_port=0,
                              registry_management_port=0, guard_port=0,
                              triton_model_config="" if args.model_config == "default" else args.model_config)
        try:
            manager.up(stack)
            compare(stack, args.events, args.rounds, ("job", "baseline"), None, stack.state_dir / "bench-gpu")
        finally:
            manager.down(stack)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
