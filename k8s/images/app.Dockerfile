# The riskstream command line and services that are not Flink jobs (the guard: `riskstream guard serve`).
# Build from the project root:
#   docker build -f k8s/images/app.Dockerfile -t riskstream/app:0.1.0 .
FROM python:3.11-slim-bookworm

COPY pyproject.toml README.md /opt/riskstream/
COPY riskstream /opt/riskstream/riskstream
COPY jobs /opt/riskstream/jobs
COPY udfs /opt/riskstream/udfs
COPY dashboards /opt/riskstream/dashboards
COPY schemas /opt/riskstream/schemas
COPY policies /opt/riskstream/policies
# Installed, not linked: the schemas, migrations, policies and alert rules are package data
# (tests/integration/test_installed_package.py), so the source folder is not needed at run time.
RUN pip install --no-cache-dir /opt/riskstream && rm -rf /opt/riskstream

RUN useradd --uid 10001 --no-create-home riskstream
USER 10001
