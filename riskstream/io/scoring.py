"""Batched safety scoring against Triton, with a per-call timeout, retries of transient errors only,
and an explicit fallback: a batch that cannot be scored comes back as `None` (unscored), never as safe."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from riskstream.core.config import TritonSettings
from riskstream.io.triton_client import ModelInfo, model_info

log = logging.getLogger(__name__)

# gRPC codes worth another try: the server is restarting, overloaded, or the call ran out of time.
TRANSIENT = ("StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED", "StatusCode.RESOURCE_EXHAUSTED",
             "StatusCode.ABORTED")


@dataclass(frozen=True)
class Scored:
    """One call's scores (texts x categories) and, per text, the model version Triton said produced them:
    a batch split into several requests can straddle a reload, so the version is per row, not per call."""

    scores: np.ndarray
    versions: list[str]


@dataclass
class ScorerStats:
    calls: int = 0
    failed_calls: int = 0
    retries: int = 0
    unscored_items: int = 0


class SafetyScorer:
    """One client per worker: `open()` before use, `close()` after."""

    def __init__(self, settings: TritonSettings, max_batch: int = 4096):
        self.settings = settings
        self.max_batch = max_batch
        self.stats = ScorerStats()
        self._client: grpcclient.InferenceServerClient | None = None
        self._model: ModelInfo | None = None
        # The model version Triton named in its last successful response (a reload changes it).
        self.last_model_version: str | None = None

    def open(self) -> None:
        self._client = grpcclient.InferenceServerClient(self.settings.url)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def model(self) -> ModelInfo | None:
        """Name, version and categories of the served model; None while Triton cannot be reached."""
        if self._model is None:
            try:
                self._model = model_info(self.settings.url, self.settings.model_name)
            except Exception as exc:  # noqa: BLE001 - lineage lookup must not stop scoring
                log.warning("Triton model metadata unavailable: %s", exc)
        return self._model

    def _metadata_version(self) -> str:
        model = self.model
        return model.version if model else ""

    def score(self, texts: list[str]) -> np.ndarray | None:
        """Scores (len(texts) x categories) in [0, 1], or None when this batch could not be scored."""
        scored = self.score_versioned(texts)
        return None if scored is None else scored.scores

    def score_versioned(self, texts: list[str]) -> Scored | None:
        """As `score`, with the model version that scored each text."""
        if not texts:
            return Scored(np.zeros((0, 0), dtype=np.float32), [])
        parts, versions = [], []
        for start in range(0, len(texts), self.max_batch):
            chunk = texts[start:start + self.max_batch]
            part = self._score_batch(chunk)
            if part is None:
                self.stats.unscored_items += len(texts)
                return None
            parts.append(part)
            versions.extend([self.last_model_version] * len(chunk))
        return Scored(np.concatenate(parts), versions)

    def _score_batch(self, texts: list[str]) -> np.ndarray | None:
        batch = np.array([t.encode("utf-8") for t in texts], dtype=np.object_).reshape(-1, 1)
        attempts = 1 + max(0, self.settings.retries)
        for attempt in range(attempts):
            self.stats.calls += 1
            try:
                tensor = grpcclient.InferInput("TEXT", list(batch.shape), "BYTES")
                tensor.set_data_from_numpy(batch)
                result = self._client.infer(self.settings.model_name, [tensor],
                                            outputs=[grpcclient.InferRequestedOutput("SCORES")],
                                            client_timeout=self.settings.timeout_s)
                # Triton names the version that served the request; metadata's newest is the fallback.
                self.last_model_version = result.get_response().model_version or self._metadata_version()
                return result.as_numpy("SCORES")
            except InferenceServerException as exc:
                self.stats.failed_calls += 1
                transient = any(code in str(exc.status()) for code in TRANSIENT)
                # A fresh channel skips gRPC's reconnect back-off, so scoring resumes as soon as Triton is back.
                self.close()
                self.open()
                if not transient or attempt == attempts - 1:
                    log.warning("scoring %d items failed (%s); counted as unscored", len(texts), exc.status())
                    return None
                self.stats.retries += 1
                time.sleep(0.05 * 2 ** attempt)
        return None
