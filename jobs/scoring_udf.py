"""The Triton client inside a vectorized (pandas) UDF: made in open(), closed in close()."""
from __future__ import annotations

import numpy as np
import pandas as pd
from pyflink.table.udf import FunctionContext, ScalarFunction

from riskstream.core.config import TritonSettings
from riskstream.io.scoring import SafetyScorer, Scored


class TritonScoringFunction(ScalarFunction):
    """Base of the jobs' scoring UDFs: one Triton call per Arrow batch of captions."""

    def __init__(self, triton: TritonSettings):
        self.triton = triton

    def open(self, function_context: FunctionContext) -> None:
        self.scorer = SafetyScorer(self.triton)
        self.scorer.open()

    def close(self) -> None:
        self.scorer.close()

    def score_present(self, captions: pd.Series) -> tuple[np.ndarray, Scored | None]:
        """(mask of rows with a caption, their scores and model versions, or None when Triton could not
        score them)."""
        present = captions.notna().to_numpy()
        if not present.any():
            return present, None
        return present, self.scorer.score_versioned(captions[present].astype(str).tolist())
