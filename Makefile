# Quickstart targets. Torch is installed first, pinned to the CPU build that pip finds locally,
# so that no later install resolves a newer (CUDA) torch.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install demo test browser default-model clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -e ".[all,test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/timeartist demo --out demo_output

test: $(STAMP) browser
	$(PY) -m pytest -q

# The playground's browser tests drive Debian's Chromium through Playwright. As root with apt (CI, a fresh machine)
# it is installed when missing; elsewhere those tests skip and say why.
browser:
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium for the browser tests (apt-get; log in $(VENV)/chromium-install.log)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) > $(VENV)/chromium-install.log 2>&1 \
			|| { tail -5 $(VENV)/chromium-install.log; exit 1; }; \
	fi

# The bundled default model, from scratch on a 2-core CPU (hours; the model card states the CPU time of each stage).
# Reads ../shared/data or $$TIMEARTIST_DATA; no ETT file, M1, M3, Tourism or Monash file enters any training. The
# outpainter checkpoint and the forecast defaults are chosen on ETT validation splits by `export`; test splits are
# read only by the benchmarks; the trend rule (--trend-min-r2) was chosen on validation series by
# `timeartist validate trend` (M1/M3 histories without their test windows, the corpus, ETT validation), and the
# seasonal blend (--seasonal-blend, --blend-periods) on the ETT validation splits (BENCHMARKS.md section 1); the
# quantile head trains with the chosen point outpainter frozen, and the rules for series that are not ETT
# (--choose-period ... --calibrate) were chosen on validation series (BENCHMARKS.md section 10).
# Stage 1a (the image tokenizer, three parts) is the long one; the others take minutes to an hour.
RUNS ?= runs/default
TA := OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE $(VENV)/bin/timeartist
default-model: $(STAMP)
	$(TA) train warmup --config configs/default/image_tokenizer.yaml experiment.output_dir=$(RUNS)/image_tokenizer
	$(TA) train warmup --config configs/default/image_tokenizer_finetune.yaml experiment.output_dir=$(RUNS)/image_tokenizer_finetune model.visual_init=$(RUNS)/image_tokenizer/export/visual
	$(TA) train warmup --config configs/default/image_tokenizer_polish.yaml experiment.output_dir=$(RUNS)/image_tokenizer_polish model.visual_init=$(RUNS)/image_tokenizer_finetune/export/visual
	$(TA) train warmup --config configs/default/image_tokenizer_decoder.yaml experiment.output_dir=$(RUNS)/image_tokenizer_decoder model.visual_init=$(RUNS)/image_tokenizer_polish/export/visual
	$(TA) train warmup --config configs/default/warmup.yaml experiment.output_dir=$(RUNS)/warmup model.visual_init=$(RUNS)/image_tokenizer/export/visual
	$(TA) train warmup --config configs/default/series_decoder.yaml experiment.output_dir=$(RUNS)/series_decoder model.temporal_init=$(RUNS)/warmup/export/temporal model.visual_init=$(RUNS)/image_tokenizer/export/visual
	$(TA) train warmup --config configs/default/series_finetune.yaml experiment.output_dir=$(RUNS)/series_finetune model.temporal_init=$(RUNS)/series_decoder/export/temporal model.visual_init=$(RUNS)/image_tokenizer/export/visual
	$(TA) train warmup --config configs/default/series_spread.yaml experiment.output_dir=$(RUNS)/series_spread model.temporal_init=$(RUNS)/series_finetune/export/temporal model.visual_init=$(RUNS)/image_tokenizer/export/visual
	$(TA) export --base $(RUNS)/warmup/export --visual $(RUNS)/image_tokenizer_decoder/export/visual --temporal $(RUNS)/series_spread/export/temporal --out $(RUNS)/tokenizers
	$(TA) train align --config configs/default/align.yaml experiment.output_dir=$(RUNS)/align experiment.init_weight=$(RUNS)/tokenizers
	$(TA) train generator --config configs/default/generator.yaml experiment.output_dir=$(RUNS)/generator experiment.tokenizer_checkpoint=$(RUNS)/tokenizers
	$(TA) train outpainter --config configs/default/outpainter.yaml experiment.output_dir=$(RUNS)/outpainter
	$(TA) export --base $(RUNS)/align/export --outpainter $(RUNS)/outpainter --out $(RUNS)/point_forecaster
	$(TA) train outpainter --config configs/default/outpainter_quantiles.yaml experiment.output_dir=$(RUNS)/outpainter_quantiles model.outpainter_init=$(RUNS)/point_forecaster/outpainter
	$(TA) export --base $(RUNS)/align/export --outpainter $(RUNS)/outpainter_quantiles --context-periods auto --trend-ensemble auto --trend-min-r2 0.8 --seasonal-blend 0.1 --blend-periods 28 \
		--choose-period on --restore-detail 64 --fallback 0.8 --level-gate 2 --calibrate 1 --generator $(RUNS)/generator/export --out src/timeartist/assets/default_model

clean:
	rm -rf $(VENV) demo_output .pytest_cache
