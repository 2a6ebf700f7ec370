# Quickstart targets. Torch is installed first, pinned to the CPU build that pip finds locally,
# so that no later install resolves a newer (CUDA) torch.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install demo test default-model clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -e ".[all,test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/timeartist demo --out demo_output

test: $(STAMP)
	$(PY) -m pytest -q

# The bundled default model, from scratch on a 2-core CPU (about an hour when the four trainings run one after
# another on an idle machine; see the model card in src/timeartist/assets/default_model/README.md).
# Reads ../shared/data or $$TIMEARTIST_DATA. The outpainter checkpoint and the forecast context are chosen on the
# ETTh1/ETTh2 validation splits by `export`; the test splits are read only by the benchmarks.
RUNS ?= runs/default
default-model: $(STAMP)
	$(VENV)/bin/timeartist train warmup --config configs/default/warmup.yaml experiment.output_dir=$(RUNS)/warmup
	$(VENV)/bin/timeartist train align --config configs/default/align.yaml experiment.output_dir=$(RUNS)/align experiment.init_weight=$(RUNS)/warmup/export
	$(VENV)/bin/timeartist train generator --config configs/default/generator.yaml experiment.output_dir=$(RUNS)/generator experiment.tokenizer_checkpoint=$(RUNS)/align/export
	$(VENV)/bin/timeartist train outpainter --config configs/default/outpainter.yaml experiment.output_dir=$(RUNS)/outpainter
	$(VENV)/bin/timeartist export --base $(RUNS)/align/export --outpainter $(RUNS)/outpainter --context-periods auto --generator $(RUNS)/generator/export --out src/timeartist/assets/default_model

clean:
	rm -rf $(VENV) demo_output .pytest_cache
