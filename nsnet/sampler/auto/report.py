"""How an automatic choice is shown: one table of the candidates' holdout scores and a verdict line
(printed by ``fit-sampler --variant auto`` and ``nsnet info RUN``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def choice_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Returns one row per candidate (plus Uniform first): label, sampler, holdout mAP mean and sample std
    over seeds, the difference to Uniform with its paired 95 % interval, how many seeds landed at
    Uniform's level ("flat"), training seconds."""
    rows = [{"candidate": "uniform", "sampler": "uniform", "mAP": f"{record['uniform_holdout_mAP']:.2f}",
             "± seeds": "", "- uniform": "", "95% CI": "", "flat": "", "train s": "0"}]
    for rec in record["candidates"]:
        if "mean" not in rec:
            rows.append({"candidate": rec["label"], "sampler": rec["method"], "mAP": "diverged", "± seeds": "",
                         "- uniform": "", "95% CI": "", "flat": "", "train s": f"{sum(rec['train_seconds']):.0f}"})
            continue
        vs = rec["vs_uniform"]
        rows.append({
            "candidate": rec["label"] + (" *" if rec["label"] == record["choice"] else ""), "sampler": rec["method"],
            "mAP": f"{rec['mean']:.2f}", "± seeds": f"{rec['std']:.2f}", "- uniform": f"{vs['diff']:+.2f}",
            "95% CI": f"[{vs['low']:+.1f}, {vs['high']:+.1f}]",
            "flat": f"{sum(rec['at_uniform_level'])}/{len(rec['at_uniform_level'])}",
            "train s": f"{sum(rec['train_seconds']):.0f}",
        })
    return rows


def verdict(record: dict[str, Any]) -> str:
    """Returns the one-sentence outcome: what was chosen and why, or that nothing beat Uniform."""
    hold = record["holdout"]
    grouped = f", whole groups of {hold['groups']}" if hold.get("groups") else ""
    where = f"{hold['holdout_videos']} held-out train videos ({hold['holdout']}{grouped}), K = {hold['k']}"
    if not record["beats_uniform"]:
        return (f"No learned sampler beats Uniform on the {where}: the choice is uniform "
                f"(`nsnet evaluate -m uniform`).")
    tries = record.get("final", [])
    flat = [t for t in tries if t["at_uniform_level"]]
    retry = f" ({len(flat)} final run(s) at Uniform's level were retrained)" if flat else ""
    return (f"Chosen: {record['choice']} (sampler {record['method']}) on the {where}; retrained on the whole train "
            f"split{retry}. Cost: {record['candidate_seconds']:.0f} s of candidate training + "
            f"{record.get('final_seconds', 0):.0f} s for the final run ({record['total_seconds']:.0f} s in all).")


def choice_table(record: dict[str, Any]) -> Any:
    """Returns a rich Table of :func:`choice_rows` (``*`` marks the choice)."""
    from rich.table import Table

    rows = choice_rows(record)
    table = Table(title="auto: holdout mAP (%), mean of the seeds; * = the choice")
    for col in rows[0]:
        table.add_column(col, justify="left" if col in ("candidate", "sampler") else "right", no_wrap=True)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    return table


def print_choice(record: dict[str, Any]) -> None:
    """Prints the candidates' table and the verdict to stdout (120 columns when not a terminal)."""
    import sys

    from rich.console import Console

    out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 120)
    out.print(choice_table(record))
    out.print(verdict(record), markup=False)


def run_summary(run_dir: str | Path) -> dict[str, Any]:
    """Returns what ``nsnet info RUN`` shows of a sampler run directory: its variant, store, train split
    and videos, seconds, the training's ``warnings`` (e.g. a saturated AdaFocus+ skip policy) and the
    ``auto`` record when the run is an automatic choice."""
    from nsnet.sampler.run import CONFIG, RunError

    path = Path(run_dir) / CONFIG
    try:
        payload = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise RunError(f"{run_dir}: cannot read the sampler run ({err})") from err
    meta, cfg = payload.get("run", {}), payload.get("config", {})
    return {"run": str(run_dir), "variant": cfg.get("variant"), "seed": cfg.get("seed"),
            "store": meta.get("store"), "train_split": meta.get("train_split"),
            "train_videos": meta.get("num_train_videos"), "train_seconds": meta.get("train_seconds"),
            "options": cfg.get("options", {}), "warnings": list(meta.get("warnings") or []), "auto": meta.get("auto")}
