"""Renders the results tables of ``benchmarks/RESULTS.md`` from the committed JSON files of
``benchmarks/results``.

Each generated table (or prose block) sits between ``<!-- table: NAME -->`` and ``<!-- /table -->``
in RESULTS.md; NAME is a renderer of :data:`RENDERERS` (JSON data -> Markdown). Stds are sample stds
(ddof = 1): a JSON without ``"std_ddof": 1`` holds population stds, converted with sqrt(n / (n - 1)).

    python benchmarks/report.py --write   # rewrite every marked table in place
    python benchmarks/report.py --check   # exit 1 with a diff of the first table that differs
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.tables import auto, controlled, controlled_claims, fixes, infra, probe, real, tsqnet_adafocus  # noqa: E402
from benchmarks.tables.stats import RESULTS_DIR, Results  # noqa: E402

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"

RENDERERS: dict[str, Callable[[Results], str]] = {
    "real_table1": real.real_table1,
    "real_fusions": real.real_fusions,
    "real_guide": real.real_guide,
    "real_probe": real.real_probe,
    "real_saliency": real.real_saliency,
    "real_ablation": real.real_ablation,
    "real_investigation": real.real_investigation,
    "real_sweep": real.real_sweep,
    "real_targets": real.real_targets,
    "real_table1_tsqnet": real.real_table1_tsqnet,
    "real_adafocus_table": tsqnet_adafocus.real_adafocus_table,
    "controlled_table1": controlled.controlled_table1,
    "controlled_gap": controlled.controlled_gap,
    "controlled_reload": controlled.controlled_reload,
    "controlled_fusions": controlled.controlled_fusions,
    "controlled_guide": controlled.controlled_guide,
    "controlled_tune": controlled.controlled_tune,
    "controlled_ablation": controlled.controlled_ablation,
    "controlled_grid": controlled.controlled_grid,
    "controlled_claims": controlled_claims.controlled_claims,
    "tsqnet_tables": tsqnet_adafocus.tsqnet_tables,
    "tsqnet_union": tsqnet_adafocus.tsqnet_union,
    "tsqnet_reconcile": tsqnet_adafocus.tsqnet_reconcile,
    "adafocus_table": tsqnet_adafocus.adafocus_table,
    "adafocus_stages": tsqnet_adafocus.adafocus_stages,
    "adafocus_paired": tsqnet_adafocus.adafocus_paired,
    "decode_speed": infra.decode_speed,
    "decode_extract": infra.decode_extract,
    "decode_jit": infra.decode_jit,
    "decode_unchanged": infra.decode_unchanged,
    "store_url": infra.store_url,
    "scale_extraction": infra.scale_extraction,
    "scale_stages": infra.scale_stages,
    "scale_projection": infra.scale_projection,
    "auto_table1": auto.auto_table1,
    "auto_choices": auto.auto_choices,
    "event_probe_frames": probe.event_probe_frames,
    "event_probe_photos": probe.event_probe_photos,
    "localiser_ceiling": probe.localiser_ceiling,
    "event_probe_frames_224": lambda r: probe.event_probe_frames(r, "ctrl400_224_event_probe"),
    "light224_compare": probe.store_compare,
    "ctrl400_224_table1": lambda r: auto.auto_table1(r, "ctrl400_224_ownlr_auto"),
    "ctrl400_224_choices": lambda r: auto.auto_choices(r, "ctrl400_224_ownlr_auto"),
    "ctrl400_224_targets": lambda r: auto.auto_targets(r, "ctrl400_224_ownlr_auto"),
    "auto_targets": auto.auto_targets,
    "auto_settings": auto.auto_summary_line,
    "auto_pairs": auto.auto_pairs,
    "auto_fusions": auto.auto_fusions,
    "real_auto_settings": lambda r: auto.auto_summary_line(r, "real_auto"),
    "real_auto_table1": lambda r: auto.auto_table1(r, "real_auto"),
    "ctrl1000_settings": lambda r: auto.auto_summary_line(r, "ctrl1000_auto"),
    "ctrl1000_vs_old": lambda r: controlled.rebuilt_vs_old(r, "ctrl1000_auto"),
    "ctrl1000_oracles": controlled.oracle_guides,
    "ctrl1000_table1": lambda r: auto.auto_table1(r, "ctrl1000_auto"),
    "ctrl1000_pairs": lambda r: auto.auto_pairs(r, "ctrl1000_auto"),
    "ctrl1000_choices": lambda r: auto.auto_choices(r, "ctrl1000_auto"),
    "ctrl1000_targets": lambda r: auto.auto_targets(r, "ctrl1000_auto"),
    "photo_overlap": auto.photo_overlap,
    "grouped_holdout": auto.grouped_holdout,
    "ctrl1000_choices_grouped": lambda r: auto.auto_choices(r, "ctrl1000_auto", "auto_grouped"),
    "ctrl1000_targets_grouped": lambda r: auto.auto_targets(r, "ctrl1000_auto", "auto-grouped"),
    "real_auto_pairs": lambda r: auto.auto_pairs(r, "real_auto"),
    "real_auto_choices": lambda r: auto.auto_choices(r, "real_auto"),
    "real_auto_targets": lambda r: auto.auto_targets(r, "real_auto"),
    "ctrl400_lr": auto.ctrl400_lr,
    "ctrl400_table6": auto.ctrl400_table6,
    "ctrl400_table6_holdout": auto.ctrl400_table6_holdout,
    "adafocus_policy": fixes.adafocus_policy,
    "adafocus_cause": fixes.adafocus_cause,
    "real_adafocus_policy": lambda r: fixes.adafocus_policy(r, "real_adafocus_policy"),
    "pip96s16_policy": lambda r: fixes.adafocus_policy(r, "pip96s16_policy"),
    "pip96s16_cause": lambda r: fixes.adafocus_cause(r, "pip96s16_policy"),
    "pip96s16_stage2_holdout": fixes.adafocus_holdout,
    "pip96s16_stage3_holdout": lambda r: fixes.adafocus_holdout(r, "pip96s16_stage3_holdout_light",
                                                                 "pip96s16_stage3_holdout_heavy"),
    "pip640_curve": lambda r: fixes.adafocus_curve(r, "pip640_curve"),
    "pip640_policy": lambda r: fixes.adafocus_policy(r, "pip640_policy"),
    "pip640_cause": lambda r: fixes.adafocus_cause(r, "pip640_policy"),
    "pip640_policy_holdout": lambda r: fixes.adafocus_holdout(r, "pip640_policy_holdout"),
    "pip96s16_policy_holdout": lambda r: fixes.adafocus_holdout(r, "pip96s16_policy_holdout"),
    "pip640_plus": lambda r: fixes.adafocus_plus(r, "pip640_plus"),
    "pip640_plus_entropy": lambda r: fixes.adafocus_plus(r, "pip640_plus_entropy"),
    "pip640_plus_entropy_holdout": lambda r: fixes.adafocus_plus_holdout(r, "pip640_plus_entropy_holdout"),
    "real_adafocus_policy_holdout": lambda r: fixes.adafocus_holdout(r, "real_adafocus_policy_holdout"),
    "distractor_stop": fixes.distractor_stop,
    "distractor_power": fixes.distractor_power,
    "holdout_overlap": fixes.holdout_overlap,
    "auto_lr_compare": auto.auto_lr_compare,
    "adafocus_plus_toy": tsqnet_adafocus.adafocus_plus_toy,
    "ctrl400_ownlr_settings": lambda r: auto.auto_summary_line(r, "ctrl400_ownlr_auto"),
    "ctrl400_ownlr_table1": lambda r: auto.auto_table1(r, "ctrl400_ownlr_auto"),
    "ctrl400_ownlr_pairs": lambda r: auto.auto_pairs(r, "ctrl400_ownlr_auto"),
    "ctrl400_ownlr_choices": lambda r: auto.auto_choices(r, "ctrl400_ownlr_auto"),
    "ctrl400_ownlr_5seeds_table1": lambda r: auto.auto_table1(r, "ctrl400_ownlr_5seeds_auto"),
    "ctrl400_ownlr_5seeds_pairs": lambda r: auto.auto_pairs(r, "ctrl400_ownlr_5seeds_auto"),
    "real_ownlr_settings": lambda r: auto.auto_summary_line(r, "real_ownlr_auto"),
    "real_ownlr_table1": lambda r: auto.auto_table1(r, "real_ownlr_auto"),
    "real_ownlr_pairs": lambda r: auto.auto_pairs(r, "real_ownlr_auto"),
    "real_ownlr_choices": lambda r: auto.auto_choices(r, "real_ownlr_auto"),
    "real_ownlr_targets": lambda r: auto.auto_targets(r, "real_ownlr_auto"),
    "real_auto_lr_compare": lambda r: auto.auto_lr_compare(r, ("real_auto", "real_ownlr_auto")),
    "ctrl400_5seeds_table1": lambda r: auto.auto_table1(r, "ctrl400_5seeds_auto"),
    "ctrl400_5seeds_pairs": lambda r: auto.auto_pairs(r, "ctrl400_5seeds_auto"),
}

# a block's body never holds another marker, so an empty block cannot swallow the next one
BLOCK = re.compile(r"(<!-- table: (?P<name>[\w-]+) -->\n)(?P<body>(?:(?!<!-- /?table).)*?)\n?(<!-- /table -->)", re.S)


class ReportError(Exception):
    """A marked block names no registered renderer."""


def blocks(text: str) -> list[tuple[str, str]]:
    """Returns (renderer name, current body) of every marked block of ``text``, in order."""
    return [(m["name"], m["body"]) for m in BLOCK.finditer(text)]


def render(name: str, results: Results) -> str:
    """Returns the Markdown that renderer ``name`` makes from ``results``."""
    if name not in RENDERERS:
        raise ReportError(f"RESULTS.md marks a table {name!r} that report.py has no renderer for")
    return RENDERERS[name](results).rstrip("\n")


def regenerate(text: str, results: Results) -> str:
    """Returns ``text`` with every marked block replaced by its renderer's output."""
    return BLOCK.sub(lambda m: m.group(1) + render(m["name"], results) + "\n" + m.group(4), text)


def check(text: str, results: Results) -> str | None:
    """Returns None when every marked block equals its regeneration, else a unified diff of the
    first block that differs (headed by its name)."""
    for name, body in blocks(text):
        fresh = render(name, results)
        if body != fresh:
            diff = difflib.unified_diff(body.splitlines(), fresh.splitlines(), f"RESULTS.md [{name}]",
                                        f"regenerated [{name}]", lineterm="")
            return "\n".join(diff)
    return None


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit status (1: a marked table differs)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the marked tables in place")
    mode.add_argument("--check", action="store_true", help="exit 1 if a marked table differs from its JSON")
    mode.add_argument("--show", metavar="NAME", help="print one renderer's output")
    ap.add_argument("--results", type=Path, default=RESULTS_MD)
    ap.add_argument("--json-dir", type=Path, default=RESULTS_DIR)
    args = ap.parse_args(argv)
    results = Results(args.json_dir)
    if args.show:
        print(render(args.show, results))
        return 0
    text = args.results.read_text()
    if args.write:
        args.results.write_text(regenerate(text, results))
        print(f"{len(blocks(text))} tables written")
        return 0
    diff = check(text, results)
    if diff:
        print(diff)
        return 1
    print(f"{len(blocks(text))} tables match their JSON")
    return 0


if __name__ == "__main__":
    sys.exit(main())
