"""Sample standard deviations (ddof = 1) and the number formats of the results tables.

The runners wrote the population std (ddof = 0) until they recorded ``"std_ddof": 1`` in their
JSON; :func:`sample_std` converts an old file's figure: std * sqrt(n / (n - 1)) over n seeds.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"


class Results:
    """The committed JSON files of ``benchmarks/results``, loaded on first use by file stem
    (``results["controlled_summary"]``)."""

    def __init__(self, directory: Path = RESULTS_DIR) -> None:
        self.directory = Path(directory)
        self._cache: dict[str, Any] = {}

    def __getitem__(self, stem: str) -> Any:
        if stem not in self._cache:
            self._cache[stem] = json.loads((self.directory / f"{stem}.json").read_text())
        return self._cache[stem]


def ddof_of(data: Any) -> int:
    """Returns the ddof a results JSON's stds were written with: its ``std_ddof`` key (a list of rows:
    its first row's), else 0 (files written before the runners recorded it hold the population std)."""
    if isinstance(data, list):
        return ddof_of(data[0]) if data else 0
    if isinstance(data, dict):
        return int(data.get("std_ddof", 0))
    return 0


def sample_std(std: float, n: int, ddof: int = 0) -> float:
    """Returns the sample std (ddof = 1) of n values whose std was stored with ``ddof``: the
    population std (ddof 0) times sqrt(n / (n - 1)); 0.0 when n < 2 (no spread is defined) or when
    the stored std is float noise (below 1e-9: a method with no seed-dependent part)."""
    if n < 2 or abs(std) < 1e-9:
        return 0.0
    if ddof == 1:
        return float(std)
    if ddof != 0:
        raise ValueError(f"std stored with ddof={ddof}: only 0 and 1 are known")
    return float(std) * math.sqrt(n / (n - 1))


def std_of(values: Sequence[float]) -> float:
    """Returns the sample std (ddof = 1) of ``values``; 0.0 for fewer than two values."""
    n = len(values)
    if n < 2:
        return 0.0
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


def pm(mean: float, std: float, prec: int = 2, sign: bool = False) -> str:
    """Returns "mean ± std" with ``prec`` decimals, or only the mean when the std is 0 (a method with
    no seed-dependent part, or a single seed): no "± 0.00"."""
    head = f"{mean:+.{prec}f}" if sign else f"{mean:.{prec}f}"
    if abs(std) < 1e-9:  # float noise of a method with no seed-dependent part (the oracle)
        return head
    return f"{head} ± {std:.{prec}f}"


def table(header: Sequence[str], align: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Returns a Markdown table: ``align`` holds one of "l" / "r" per column."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def pct(share: float | None, prec: int = 1) -> str:
    """Returns a 0-1 share as "12.3%" ("" when missing)."""
    return "" if share is None else f"{100 * share:.{prec}f}%"


def wrap(text: str, width: int = 100) -> str:
    """Returns ``text`` wrapped at ``width`` characters (generated prose blocks)."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width=width, break_on_hyphens=False))
