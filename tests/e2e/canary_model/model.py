"""A canary safety model for the reload test (Triton Python backend): every caption scores 1.0 in the last
category (spam) and 0.0 in the others, so the rows it scored are told apart from the real model's by value."""
import numpy as np
import triton_python_backend_utils as pb_utils

CATEGORIES = 6


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            size = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy().reshape(-1).shape[0]
            scores = np.zeros((size, CATEGORIES), dtype=np.float32)
            scores[:, -1] = 1.0
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("SCORES", scores)]))
        return responses
