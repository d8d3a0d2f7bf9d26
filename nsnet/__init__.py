"""nsnet: NSNet (Non-saliency Suppression) frame sampling for efficient video recognition."""

import os as _os

# Idle OpenMP threads sleep instead of spinning (~3 ms after every parallel region by default), so
# torch's threads stop burning the cores that decode workers and other processes need (measured in
# benchmarks/RESULTS.md, bench_extract: models-only throughput 3x, extract 1.7x on 2 cores).
# libgomp reads this once, when torch loads it, so it must precede the first `import torch`;
# a value set by the user wins. Numerical outputs are unchanged.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
