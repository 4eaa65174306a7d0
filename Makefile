# Two entry points for a fresh clone: `make demo` (the main job) and `make test`.
# Both create .venv and install what they need; nothing else is assumed on the machine.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
TORCH_VERSION ?= 2.13.0
# Where torch comes from: empty for pip's own configuration; e.g. https://download.pytorch.org/whl/cpu for the CPU build
# where the default index would bring the CUDA wheels.
TORCH_INDEX ?=
# The real data beside the clone (CI and the tests read it there unless MTQA_DATA says otherwise).
export MTQA_DATA ?= $(abspath ../shared/data)

.PHONY: venv test demo bench bench-translate bench-translate-memory bench-batches bench-train bench-eval bench-filters clean

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, pinned (and from TORCH_INDEX when set), so resolving the rest never picks another build of it.
	$(PIP) install -q torch==$(TORCH_VERSION) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)
	$(PIP) install -q -e '.[test]'
	touch $(STAMP)

# Test files run on TEST_WORKERS processes (pytest-xdist), each pinned to its share of the CPUs (tests/conftest.py):
# most of the suite's time is processes importing torch and transformers, which one core at a time leaves idle.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(VENV)/bin/ruff check mtqa tests bench tools
	$(VENV)/bin/ruff format --check mtqa tests bench tools
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

demo: $(STAMP)
	$(PY) -m mtqa.demo

# Every benchmark, then the scorecard: bench/results/scorecard.json and .md and the table in docs/benchmarks.md.
bench: $(STAMP)
	$(PY) -m bench.scorecard $(if $(QUICK),--quick,)

bench-translate: $(STAMP)
	$(PY) -m bench.translate.run $(if $(QUICK),--quick,)

bench-translate-memory: $(STAMP)
	$(PY) -m bench.scorecard --only translate-memory $(if $(QUICK),--quick,)

bench-batches: $(STAMP)
	$(PY) -m bench.batches $(if $(QUICK),--quick,)

bench-train: $(STAMP)
	$(PY) -m bench.train $(if $(QUICK),--quick,)

# The labelled filter benchmark alone; its figures replace the filters rows of bench/results/scorecard.json.
bench-filters: $(STAMP)
	$(PY) -m bench.scorecard --only filters $(if $(QUICK),--quick,)

bench-eval: $(STAMP)
	$(PY) -m bench.evaluate $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) build *.egg-info bench/work demo-out
