"""Triton readiness and model metadata, as the stack and the jobs see them."""
from __future__ import annotations

from dataclasses import dataclass

import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from riskstream.core.errors import ServiceUnavailable


@dataclass(frozen=True)
class ModelInfo:
    """What lineage needs from the served model: its name, version and output categories."""

    name: str
    version: str
    categories: tuple[str, ...]


def is_ready(url: str, model: str | None = None, timeout_s: float = 2.0) -> bool:
    """True when the server (and the model, when named) is ready to serve."""
    try:
        client = grpcclient.InferenceServerClient(url)
        try:
            ready = client.is_server_ready(client_timeout=timeout_s)
            if ready and model:
                ready = client.is_model_ready(model, client_timeout=timeout_s)
            return bool(ready)
        finally:
            client.close()
    except InferenceServerException:
        return False


def model_info(url: str, model: str, timeout_s: float = 5.0) -> ModelInfo:
    """The model's newest ready version and its categories (config parameter `categories`)."""
    client = grpcclient.InferenceServerClient(url)
    try:
        metadata = client.get_model_metadata(model, as_json=True, client_timeout=timeout_s)
        config = client.get_model_config(model, as_json=True, client_timeout=timeout_s)["config"]
    except InferenceServerException as exc:
        raise ServiceUnavailable("Triton", url, f"model {model!r}: {exc.message()}") from exc
    finally:
        client.close()
    versions = sorted(metadata.get("versions", []), key=int)
    raw = config.get("parameters", {}).get("categories", {}).get("string_value", "")
    categories = tuple(c.strip() for c in raw.split(",") if c.strip())
    if not categories:
        raise ServiceUnavailable("Triton", url, f"model {model!r} declares no 'categories' parameter")
    return ModelInfo(name=model, version=versions[-1] if versions else "", categories=categories)


def triton_counts(url: str, model: str) -> tuple[int, int]:
    """(items inferred, executions) since Triton started, from its statistics."""
    client = grpcclient.InferenceServerClient(url)
    try:
        stats = client.get_inference_statistics(model, as_json=True)["model_stats"][0]
    finally:
        client.close()
    return int(stats.get("inference_count", 0)), int(stats.get("execution_count", 0))
