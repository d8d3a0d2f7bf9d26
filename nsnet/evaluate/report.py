"""Writing evaluation results: ``results.json``, ``results.csv`` and a Markdown table."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Sequence

from nsnet.evaluate.run import EvalRow, EvaluationResult

CSV_COLUMNS = ("method", "label", "fusion", "K", "mAP", "top1", "gflops", "seconds", "path", "videos", "failed")


def markdown_table(rows: Sequence[EvalRow]) -> str:
    """Returns the rows as a Markdown table: method, K, mAP (%), top-1 (%), GFLOPs, seconds, path."""
    lines = ["| method | K | mAP (%) | top-1 (%) | GFLOPs | seconds | path |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        failed = f" ({r.failed} failed)" if r.failed else ""
        lines.append(f"| {r.label} | {r.K} | {100 * r.mAP:.2f} | {100 * r.top1:.2f} | {r.gflops:.3f} | "
                     f"{r.seconds:.2f} | {r.path}{failed} |")
    return "\n".join(lines)


def result_dict(result: EvaluationResult) -> dict[str, Any]:
    """Returns the JSON-able content of ``results.json`` (meta, notes, costs, rows and, for learned
    patch policies, ``patch_policy``: "method@K" -> where the policy looked, see
    :func:`nsnet.evaluate.patch_eval.policy_usage`)."""
    out = {
        "meta": result.meta,
        "notes": list(result.notes),
        "costs": result.costs.to_dict(),
        "rows": [r.to_dict() for r in result.rows],
    }
    if result.patch_policy:
        out["patch_policy"] = {f"{name}@K{k}": usage for (name, k), usage in result.patch_policy.items()}
    return out


def write_reports(result: EvaluationResult, out_dir: str | Path) -> dict[str, Path]:
    """Writes results.json, results.csv and results.md under ``out_dir``; returns {kind: path}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "csv": out / "results.csv", "md": out / "results.md"}
    paths["json"].write_text(json.dumps(result_dict(result), indent=2, default=str) + "\n")
    with paths["csv"].open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(CSV_COLUMNS))
        writer.writeheader()
        for r in result.rows:
            writer.writerow({k: v for k, v in r.to_dict().items() if k in CSV_COLUMNS})
    meta = result.meta
    header = (f"Evaluation of {meta['store']} (split {meta['split']}, {meta['videos']} videos, T={meta['T']}, "
              f"{meta['path']} path)\n\n")
    notes = "".join(f"\n- {n}" for n in result.notes)
    paths["md"].write_text(header + markdown_table(result.rows) + ("\n\nNotes:" + notes if notes else "") + "\n")
    return paths
