# The two commands a newcomer needs: `make run` and `make test`. Every target sets up what it needs,
# idempotently: Python environments, JARs from Maven Central (checksums verified), the safety model.
PYTHON ?= python3.11
VENV := .venv
TRITON_VENV := .venv-triton
RS := $(VENV)/bin/riskstream
PYTEST_ARGS ?=

.PHONY: setup run test stack-up stack-down clean-state k8s-verify

KUBECONFORM_VERSION := v0.7.0
VEGETA_VERSION := v12.12.0

setup: $(VENV)/.installed $(TRITON_VENV)/.installed .cache/jars/.verified model_repository/safety_text/1/classifier.joblib .cache/bin/kubeconform .cache/bin/vegeta .cache/chromium .cache/openlineage-spec/.verified .cache/clickhouse-tls-server/.unpacked

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[test,bench]"
	touch $@

$(TRITON_VENV)/.installed: model_repository/requirements.txt
	test -x $(TRITON_VENV)/bin/python || $(PYTHON) -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/pip install --quiet --upgrade pip
	$(TRITON_VENV)/bin/pip install --quiet -r model_repository/requirements.txt
	touch $@

.cache/jars/.verified: $(VENV)/.installed jars/jars.lock jars/kafka-broker/pom.xml jars/flink-connectors/pom.xml jars/schema-registry/pom.xml jars/flink-model-triton/artifacts.txt $(shell find jobs/java -name "*.java")
	$(RS) jars fetch
	mkdir -p $(@D) && touch $@

# Validates k8s/ manifests against Kubernetes' and the operators' schemas (tests/unit/test_k8s.py).
.cache/bin/kubeconform:
	GOBIN=$(CURDIR)/.cache/bin go install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)

# A ClickHouse server with an HTTPS listener for the test of the clients' TLS (tests/integration/
# test_clickhouse_tls.py): Debian's clickhouse-server, the one this machine's registries serve (18.16: too old
# for clickhouse-connect's queries, not for its TLS), and the libraries it links, unpacked into .cache by
# dpkg -x (apt checks each package against its signed index; nothing is installed system-wide).
CLICKHOUSE_DEB_VERSION := 18.16.1+ds-7.3+b2
CLICKHOUSE_DEBS := clickhouse-common=$(CLICKHOUSE_DEB_VERSION) clickhouse-server=$(CLICKHOUSE_DEB_VERSION) \
	libpocodata80 libpocodataodbc80 libpocofoundation80 libpocomongodb80 libpoconet80 libpoconetssl80 libpocoutil80 \
	libpocoxml80 libpococrypto80 libpocojson80 libcapnp-0.9.2 libcctz2 libcpuinfo0 libfarmhash0 libjemalloc2 \
	libmariadb3 libmetrohash1 librdkafka1 libre2-9 libodbc2 libpcre3 libltdl7
.cache/clickhouse-tls-server/.unpacked:
	rm -rf $(@D) && mkdir -p $(@D)/debs
	cd $(@D)/debs && (apt-get download -qq $(CLICKHOUSE_DEBS) 2>/dev/null || \
	  (apt-get update -qq && apt-get download -qq $(CLICKHOUSE_DEBS)))
	for deb in $(@D)/debs/*.deb; do dpkg -x $$deb $(@D)/root; done
	rm -rf $(@D)/debs && touch $@

# bench.guard's load generator: a compiled constant-rate HTTP sender, so that on a small machine the sender
# does not take the CPU the guard's latency is measured on
.cache/bin/vegeta:
	GOBIN=$(CURDIR)/.cache/bin go install github.com/tsenart/vegeta/v12@$(VEGETA_VERSION)

# The OpenLineage spec's JSON Schemas, which tests/e2e/test_lineage.py checks the job's events against: cargo
# fetches the one crate that carries them (tests/openlineage_spec/Cargo.toml says why; Cargo.lock pins its
# checksum, which cargo verifies), and only its schema files are unpacked.
OPENLINEAGE_SPEC_CRATE := datafusion-openlineage-0.0.7
.cache/openlineage-spec/.verified: tests/openlineage_spec/Cargo.toml tests/openlineage_spec/Cargo.lock
	CARGO_HOME=$(CURDIR)/.cache/cargo cargo fetch --locked --manifest-path tests/openlineage_spec/Cargo.toml
	rm -rf $(@D) && mkdir -p $(@D)
	tar -xzf $$(ls .cache/cargo/registry/cache/*/$(OPENLINEAGE_SPEC_CRATE).crate | head -1) -C $(@D) \
	  --strip-components=4 $(OPENLINEAGE_SPEC_CRATE)/tests/schemas/openlineage
	test -f $(@D)/OpenLineage.json && touch $@

# A headless Chromium for the report's browser test (tests/integration/test_report.py): Debian's package,
# installed once (needs root; or set RISKSTREAM_CHROMIUM to a Chromium binary and touch .cache/chromium).
.cache/chromium:
	command -v chromium-headless-shell >/dev/null || test -n "$$RISKSTREAM_CHROMIUM" || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium-headless-shell)
	mkdir -p .cache && touch $@

model_repository/safety_text/1/classifier.joblib: $(TRITON_VENV)/.installed datasets/labelled_captions.csv model_repository/safety_text/1/safety_features.py riskstream/safety_model/train.py
	$(TRITON_VENV)/bin/python -m riskstream.safety_model.train

# The main job end to end on the local default stack (Kafka, Triton, embedded ClickHouse, Flink MiniCluster).
run: setup
	$(RS) demo --incident surface=shorts,region=br,start=4,end=8,multiplier=20

# The whole test suite: unit, integration and end-to-end tiers, against real services it starts itself.
test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

stack-up: setup
	$(RS) stack up

stack-down:
	$(RS) stack down

# Server-side dry-run of every k8s/ overlay against a real kube-apiserver (riskstream/stack/k8s_verify.py), built
# from k8s.io/kubernetes as pinned in k8s/verify/go.mod (checksums in go.sum), with Debian's etcd. Not part of
# `make test`: the first build takes about ten minutes here. Its output is quoted in the README.
k8s-verify: $(VENV)/.installed .cache/bin/kube-apiserver
	command -v etcd >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server)
	$(VENV)/bin/python -m riskstream.stack.k8s_verify

.cache/bin/kube-apiserver: k8s/verify/go.mod k8s/verify/go.sum
	cd k8s/verify && GOFLAGS=-mod=readonly go build -o $(CURDIR)/.cache/bin/kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
