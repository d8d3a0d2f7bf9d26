#!/usr/bin/env bash
# GPU check: on a generated demo set, run extract (bf16 autocast where the GPU supports it),
# fit-sampler and evaluate on one device, print frames/s per stage, and check that the features
# extracted on that device agree with CPU features within a tolerance.
#
#   benchmarks/gpu_check.sh [DEVICE] [WORK_DIR]     DEVICE: cuda (default), cuda:N or cpu
#
# Environment: PY (python, default python3), GPU_CHECK_VIDEOS (videos per class, default 4),
# GPU_CHECK_MIN_COSINE (default 0.99: the lowest per-frame cosine similarity of the device's light
# and recognizer features to the CPU ones that passes). Exit code 0 = every stage ran and the
# features agree. With DEVICE=cpu the reference is a second CPU extraction (a determinism check),
# which is what the test suite runs (tests/test_gpu_check.py). Each stage's time is its whole
# command, process start and model loading included, so small sets understate the device's speed.
set -euo pipefail

DEVICE="${1:-cuda}"
WORK="${2:-$(mktemp -d -t nsnet-gpu-check.XXXXXX)}"
PY="${PY:-python3}"
PER_CLASS="${GPU_CHECK_VIDEOS:-4}"
MIN_COSINE="${GPU_CHECK_MIN_COSINE:-0.99}"
T=16
NSNET=("$PY" -m nsnet.cli)
EXTRACT_OPTS=(--frames "$T" --extractor-size 112 --recognizer-size 160 --workers 2 --quiet)

now() { "$PY" -c 'import time; print(time.perf_counter())'; }
rate() { "$PY" -c "import sys; n, a, b = map(float, sys.argv[1:]); print(f'{n / (b - a):10.1f}')" "$@"; }
stage() {  # stage NAME FRAMES START END
  printf '%-16s %8d frames %s frames/s  (%.1f s)\n' "$1" "$2" "$(rate "$2" "$3" "$4")" \
    "$("$PY" -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$3" "$4")"
}

echo "gpu_check: device $DEVICE, work dir $WORK"
"$PY" -c "import torch, sys; d = sys.argv[1]; print('torch', torch.__version__, '| cuda available:',
torch.cuda.is_available(), '| bf16:', torch.cuda.is_available() and torch.cuda.is_bf16_supported())" "$DEVICE"

"${NSNET[@]}" demo-data "$WORK/videos" --classes 3 --videos-per-class "$PER_CLASS" --seconds 4 --seed 0 >/dev/null
VIDEOS=$((3 * PER_CLASS))
FRAMES=$((VIDEOS * T))

t0=$(now)
"${NSNET[@]}" extract "$WORK/videos/annotations.csv" --out "$WORK/dev.zarr" --device "$DEVICE" "${EXTRACT_OPTS[@]}"
t1=$(now)
"${NSNET[@]}" fit-recognizer "$WORK/dev.zarr" --quiet
t1b=$(now)
"${NSNET[@]}" fit-sampler "$WORK/dev.zarr" --out "$WORK/run" -o epochs=10 -o width=64 -o lr=0.03 --device "$DEVICE" -q >/dev/null
t2=$(now)
"${NSNET[@]}" evaluate "$WORK/dev.zarr" --run "$WORK/run" --method nsnet --method uniform --budget 4 \
  --device "$DEVICE" --workers 2 --quiet --out "$WORK/eval" >/dev/null
t3=$(now)
"${NSNET[@]}" extract "$WORK/videos/annotations.csv" --out "$WORK/cpu.zarr" --device cpu "${EXTRACT_OPTS[@]}"
read -r TRAIN VAL < <("$PY" -c "import sys, numpy as np, zarr; s = list(zarr.open_group(sys.argv[1], mode='r')['split'][...]); print(s.count('train'), s.count('val'))" "$WORK/dev.zarr")

echo "stage              frames        rate"
stage "extract" "$FRAMES" "$t0" "$t1"
stage "fit-sampler" "$((TRAIN * T * 10))" "$t1b" "$t2"  # 10 epochs over the train videos' T frames
stage "evaluate" "$((VAL * 2 * 4))" "$t2" "$t3"           # val videos x 2 methods x K=4 reloaded frames
grep -E '^\| (nsnet|uniform)' "$WORK/eval/results.md" || true

"$PY" - "$WORK/dev.zarr" "$WORK/cpu.zarr" "$MIN_COSINE" <<'PYEOF'
import sys

import numpy as np
import zarr

dev, cpu, min_cos = zarr.open_group(sys.argv[1], mode="r"), zarr.open_group(sys.argv[2], mode="r"), float(sys.argv[3])
ok = True
for name in ("light/features", "recognizer/features"):
    a, b = np.asarray(dev[name][...], np.float64), np.asarray(cpu[name][...], np.float64)
    a, b = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
    cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    rel = np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)
    good = bool(cos.min() >= min_cos)
    ok &= good
    print(f"{name:20s} min cosine {cos.min():.5f}  max |diff| / max |cpu| {rel:.2e}  {'ok' if good else 'MISMATCH'}")
print("features agree" if ok else f"features differ (min cosine < {min_cos})")
sys.exit(0 if ok else 1)
PYEOF
