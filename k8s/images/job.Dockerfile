# The safety-health job: the official Flink image of the version pyproject.toml pins (apache-flink), with
# Python 3.11 (the project's), the project installed from /opt/riskstream (what -pyfs ships), flink-python on
# the classpath, the connector JARs verified against jars/jars.lock and the project's own operators
# (jobs/java/, compiled against this Flink by `make setup`) in usrlib/.
# Build from the project root after `make setup` (it fetches and checks the JARs):
#   docker build -f k8s/images/job.Dockerfile -t riskstream/job:0.1.0 .
FROM flink:2.3.0-java17

USER root
# Flink's image is Ubuntu-based; the project needs Python 3.11 exactly (pyproject: >=3.11,<3.12).
RUN apt-get update \
 && apt-get install -y --no-install-recommends software-properties-common \
 && add-apt-repository -y ppa:deadsnakes/ppa \
 && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
 && rm -rf /var/lib/apt/lists/*
RUN python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

COPY pyproject.toml README.md /opt/riskstream/
COPY riskstream /opt/riskstream/riskstream
COPY jobs /opt/riskstream/jobs
COPY udfs /opt/riskstream/udfs
COPY dashboards /opt/riskstream/dashboards
COPY schemas /opt/riskstream/schemas
COPY policies /opt/riskstream/policies
RUN pip install --no-cache-dir -e /opt/riskstream

# PyFlink jobs need flink-python on the cluster's classpath; the image keeps it in opt/.
RUN cp /opt/flink/opt/flink-python-2.3.0.jar /opt/flink/lib/
# Checkpoints, savepoints and HA metadata in an object store (prod's s3://...): Flink's S3 file system is a
# plugin, also kept in opt/; the presto one, which Flink's documentation recommends for checkpoints.
RUN mkdir -p /opt/flink/plugins/s3-fs-presto \
 && cp /opt/flink/opt/flink-s3-fs-presto-2.3.0.jar /opt/flink/plugins/s3-fs-presto/
COPY .cache/jars/flink-connectors/ /opt/flink/usrlib/
COPY .cache/jars/riskstream-operators/ /opt/flink/usrlib/

USER flink
