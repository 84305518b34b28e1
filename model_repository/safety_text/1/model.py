"""Triton Python-backend model: captions in, one safety score in [0, 1] per category out."""
import os
import sys

import joblib
import numpy as np
import triton_python_backend_utils as pb_utils

sys.path.insert(0, os.path.dirname(__file__))
from safety_features import featurize  # noqa: E402


class TritonPythonModel:
    def initialize(self, args):
        artifact = joblib.load(os.path.join(os.path.dirname(__file__), "classifier.joblib"))
        self.vectorizer = artifact["vectorizer"]
        self.classifiers = artifact["classifiers"]

    def execute(self, requests):
        # Dynamic batching hands over several requests at once: score them as one matrix.
        texts, sizes = [], []
        for request in requests:
            raw = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy().reshape(-1)
            texts.extend(t.decode("utf-8", errors="replace") if isinstance(t, bytes) else str(t) for t in raw)
            sizes.append(len(raw))
        features = featurize(self.vectorizer, texts)
        scores = np.column_stack([clf.predict_proba(features)[:, 1] for clf in self.classifiers]).astype(np.float32)
        responses, start = [], 0
        for size in sizes:
            out = pb_utils.Tensor("SCORES", scores[start:start + size])
            responses.append(pb_utils.InferenceResponse(output_tensors=[out]))
            start += size
        return responses
