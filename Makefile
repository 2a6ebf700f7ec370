# Quickstart targets. Torch is installed first, pinned to the CPU build that pip finds locally,
# so that no later install resolves a newer (CUDA) torch.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install demo test bench clean

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

clean:
	rm -rf $(VENV) demo_output .pytest_cache
