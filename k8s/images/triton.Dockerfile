# The safety model on Triton: NVIDIA's tritonserver 24.10 (server 2.51, the one nvidia-pytriton 0.7.0
# runs locally) with the model repository and the Python backend's pinned requirements.
# Build from the project root after `make setup` (it trains model_repository/safety_text/1/classifier.joblib):
#   docker build -f k8s/images/triton.Dockerfile -t riskstream/triton:0.1.0 .
FROM nvcr.io/nvidia/tritonserver:24.10-py3

COPY model_repository/requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt
COPY model_repository /models

USER triton-server
