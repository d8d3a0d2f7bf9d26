"""Configuration of `nsnet evaluate`: budgets, methods and where results go (one dataclass).

Methods (``--method``, repeatable; all applicable ones when none is given) are the registered
samplers (:mod:`nsnet.sampler.registry`, in their table order), their aliases, and ``fused:<s>``
for a sampler that fuses two branches (NSNet: union, intersection, join, sum, max, mul). Runs
(``--run``, repeatable) are keyed by the variant they record; a trained method needs a run of its
variant. The built-in ones:

==============  ==========================================================================
nsnet           NSNet, FSM and VGM fused with ``--fusion`` (union, alpha 0.6 by default)
fsm / vgm       one NSNet branch alone
uniform         K evenly spaced frames (segment centres)
random          K random frames (seeded)
dense           all T frames (K is ignored)
topk            MaxConf: the recognizer's max class confidence on all T frames (alias maxconf)
maxconf-l       TSQNet's MaxConf-L (a maxconf-l run)
scsampler       SCSampler-style per-frame sampler (a scsampler run)
oracle          the guiding score g_i (uses the labels): the sampler upper bound
tsqnet          TSQNet: VQM and TQM frames united (a tsqnet run)
vqm / tqm       one TSQNet module alone
adafocus        AdaFocus: one policy-chosen patch per frame on all T, its own classifier
                (an adafocus run and a store extracted with ``--patches``)
adafocus+       AdaFocus+ : also skips the local CNN on frames below the keep threshold
random-patch    a random candidate patch per frame (AdaFocus's stage-I classifier)
centre-patch    the centre candidate on every frame (stage-I classifier)
nsnet+adafocus  AdaFocus on the K frames NSNet picks (nsnet and adafocus runs)
tsqnet+adafocus AdaFocus on the K frames TSQNet picks (tsqnet and adafocus runs)
==============  ==========================================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from nsnet.errors import ConfigError
from nsnet.sampler.fusion import DEFAULT_ALPHA, DEFAULT_FUSION, FUSIONS
from nsnet.sampler.registry import resolve_alias, sampler_class, table_order

FUSED = "fused:"  # method prefix: a two-branch sampler with another fusion strategy
PATHS: tuple[str, ...] = ("reload", "cached")
MAX_BUDGET = 100_000


class EvaluateError(ConfigError):
    """An evaluation option is invalid or inconsistent with the store / run (one-line message)."""


def parse_budgets(values: list[str] | tuple[str, ...] | str) -> list[int]:
    """Returns the sorted distinct budgets K from strings like ``"5"``, ``"1,5,10"`` or ``"1..10"``.

    Raises EvaluateError for anything that is not a positive integer, list or ``a..b`` range.
    """
    if isinstance(values, str):
        values = [values]
    out: set[int] = set()
    for value in values:
        for part in str(value).replace(" ", "").split(","):
            if not part:
                continue
            m = re.fullmatch(r"(\d+)\.\.(\d+)", part)
            if m:
                lo, hi = int(m.group(1)), int(m.group(2))
                if lo < 1 or hi < lo:
                    raise EvaluateError(f"budget range {part!r} must be a..b with 1 <= a <= b")
                out.update(range(lo, hi + 1))
            elif part.isdigit() and int(part) >= 1:
                out.add(int(part))
            else:
                raise EvaluateError(f"budget {part!r} is not a positive integer, a list (1,5,10) or a range (1..10)")
    if not out:
        raise EvaluateError("no budget K given")
    if max(out) > MAX_BUDGET:
        raise EvaluateError(f"budget {max(out)} is too large")
    return sorted(out)


def fusing_sampler() -> str | None:
    """Returns the registered sampler that ``fused:<strategy>`` methods name (the one declaring
    ``fusions``), or None."""
    return next((n for n in table_order() if sampler_class(n).fusions), None)


def parse_method(text: str) -> str:
    """Returns the canonical method name for ``text`` (a registered sampler, an alias of one, or
    ``fused:<strategy>``). Raises EvaluateError naming the valid choices."""
    name = resolve_alias(text.strip().lower())
    if name.startswith(FUSED):
        strategy, fused = name[len(FUSED):], fusing_sampler()
        allowed = sampler_class(fused).fusions if fused else ()
        if strategy not in allowed:
            raise EvaluateError(f"unknown fusion {strategy!r} in {text!r}; expected one of {', '.join(allowed)}")
        return name
    if name not in table_order():
        raise EvaluateError(
            f"unknown method {text!r}; expected one of {', '.join(table_order())}, an alias or {FUSED}<strategy>"
        )
    return name


@dataclass
class EvaluateConfig:
    """Everything `nsnet evaluate` needs (mapped one-to-one from its options)."""

    store: str | Path  # a folder or a URL
    runs: list[Path] = field(default_factory=list)  # trained runs, each keyed by the variant it records
    budgets: list[int] = field(default_factory=lambda: [5])
    methods: list[str] = field(default_factory=list)  # empty = every applicable method
    fusion: str = DEFAULT_FUSION
    alpha: float = DEFAULT_ALPHA
    path: str = "reload"
    split: str = "val"
    sweep: list[int] = field(default_factory=list)
    plots: bool = False
    out: Path | None = None
    seed: int = 0
    batch_size: int = 64  # frames per recognizer forward (reload path)
    workers: int = 2  # decoding worker processes (reload path)
    device: str = "auto"
    quiet: bool = False
    strip_videos: int = 3  # videos drawn in the chosen-frame strips (--plots)

    def validate(self) -> "EvaluateConfig":
        """Returns self after checking the values; raises EvaluateError with one line."""
        self.methods = list(dict.fromkeys(parse_method(m) for m in self.methods))
        if isinstance(self.runs, (str, Path)):
            self.runs = [self.runs]
        self.runs = [Path(r) for r in self.runs if r is not None]
        if self.fusion not in FUSIONS:
            raise EvaluateError(f"--fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}")
        if not 0.0 <= float(self.alpha) <= 1.0:
            raise EvaluateError(f"--alpha must lie in [0, 1], got {self.alpha}")
        if self.path not in PATHS:
            raise EvaluateError(f"--path must be reload or cached, got {self.path!r}")
        if not self.budgets and not self.sweep:
            raise EvaluateError("give a budget (--budget K) or a sweep (--sweep 1..10)")
        for k in list(self.budgets) + list(self.sweep):
            if int(k) < 1:
                raise EvaluateError(f"budgets must be >= 1, got {k}")
        if self.batch_size < 1:
            raise EvaluateError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.workers < 0:
            raise EvaluateError(f"--workers must be >= 0, got {self.workers}")
        return self

    def all_budgets(self) -> list[int]:
        """Returns the sorted distinct budgets of ``--budget`` and ``--sweep`` together."""
        return sorted(set(int(k) for k in self.budgets) | set(int(k) for k in self.sweep))

    def out_dir(self) -> Path:
        """Returns the output directory: ``--out``, else ``RUN/eval`` of the first run, else ``./nsnet-eval``."""
        if self.out is not None:
            return Path(self.out)
        if self.runs:
            return Path(self.runs[0]) / "eval"
        return Path("nsnet-eval")
