"""The model's GPU configuration (Triton's custom model configuration `configs/gpu.pbtxt`) is the default
one with only the GPU placement and batching changed, so the job's contract with the model holds on both."""
from __future__ import annotations

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from riskstream.core import paths

MODEL = paths.MODEL_REPOSITORY / "safety_text"


def _load(path) -> model_config_pb2.ModelConfig:
    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def test_the_gpu_configuration_differs_from_the_default_only_in_placement_and_batching():
    default, gpu = _load(MODEL / "config.pbtxt"), _load(MODEL / "configs" / "gpu.pbtxt")
    assert [g.kind for g in gpu.instance_group] == [model_config_pb2.ModelInstanceGroup.KIND_GPU]
    assert [g.kind for g in default.instance_group] == [model_config_pb2.ModelInstanceGroup.KIND_CPU]
    # The job sends up to 4,096 captions per request: the batcher prefers that, and waits 2 ms at most.
    assert list(gpu.dynamic_batching.preferred_batch_size) == [gpu.max_batch_size] == [4096]
    assert 0 < gpu.dynamic_batching.max_queue_delay_microseconds <= 5_000
    for config in (default, gpu):
        config.ClearField("instance_group")
        config.ClearField("dynamic_batching")
    assert gpu == default
