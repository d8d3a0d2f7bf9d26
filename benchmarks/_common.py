"""Shared helpers for the benchmark scripts: timing, ratios, machine description and rich tables.

Benchmarks compare variants measured side by side in one run (machines are noisy), so every script
prints a table and the ratios between its rows; a bare time is never the result.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

_console = Console(highlight=False, width=None if sys.stdout.isatty() else 240)


def ensure_repo_on_path() -> None:
    """Makes ``import nsnet`` work when a benchmark is run as ``python benchmarks/x.py``."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


def ratio(a: float, b: float) -> float:
    """Returns ``a / b`` (``nan`` when ``b`` is zero or either value is not finite)."""
    try:
        return float(a) / float(b) if float(b) != 0.0 else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Returns (wall seconds, result) of one call of ``fn``."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def median_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Returns the median wall seconds of ``repeats`` calls of ``fn`` after ``warmup`` discarded calls."""
    for _ in range(warmup):
        fn()
    return statistics.median(timed(fn)[0] for _ in range(max(1, repeats)))


def machine() -> str:
    """Returns a one-line description of this machine (CPU model, logical cores, OS, Python, torch)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    parts = [f"{cpu}", f"{os.cpu_count()} logical cores", platform.system(), f"Python {platform.python_version()}"]
    try:
        import torch

        parts.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    except ImportError:
        pass
    return ", ".join(parts)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # nan
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def print_table(rows: Sequence[dict[str, Any]], title: str, columns: Sequence[str] | None = None) -> None:
    """Prints ``rows`` (dicts sharing keys) as a rich table titled ``title``; returns nothing.

    Columns are ``columns`` if given, else the keys in first-seen order; floats are rounded for reading.
    """
    if columns is None:
        columns = list(dict.fromkeys(k for row in rows for k in row))
    table = Table(title=title, title_justify="left")
    for col in columns:
        numeric = all(isinstance(r.get(col), (int, float)) for r in rows if col in r)
        table.add_column(col, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(_fmt(row.get(col, "")) for col in columns))
    _console.print(table)


def print_line(text: str) -> None:
    """Prints one line of text through the shared console; returns nothing."""
    _console.print(text)
