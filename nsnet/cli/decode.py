"""typer command ``check-decode`` (registered by :mod:`nsnet.cli`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nsnet.cli.common import Decoder, DecoderOption, Quiet
from nsnet.errors import user_errors


@user_errors
def check_decode(
    videos: Annotated[list[Path], typer.Argument(help="Video files, or annotation files/folders (their videos).")],
    frames: Annotated[int, typer.Option("--frames", "-n", min=1, max=100_000,
                                        help="Frames checked per video, uniformly spaced.")] = 16,
    decoder: DecoderOption = Decoder("auto"),
    short_side: Annotated[int, typer.Option("--short-side", min=8, max=4096,
                                            help="Shorter side the frames are compared at.")] = 128,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows instead of a table.")] = False,
    quiet: Quiet = False,
) -> None:
    """Compare N frames per video between a decoder and a plain sequential decode; exit 1 on a mismatch
    or an undecodable video."""
    from rich.console import Console
    from rich.table import Table

    from nsnet.extract.decode.check import check_video, list_videos
    from nsnet.progress import progress_bar

    paths = list_videos(videos)
    rows = []
    with progress_bar(disable=quiet or len(paths) < 2) as bar:
        task = bar.add_task("check-decode", total=len(paths))
        for path in paths:
            rows.append(check_video(path, decoder.value, frames, short_side))
            bar.advance(task)
    bad = [r for r in rows if r.status == "mismatch" or r.status.startswith("error")]
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in rows], indent=2))
    else:
        table = Table(title=f"check-decode --decoder {decoder.value} vs a sequential decode")
        for col in ("video", "codec", "container", "backend", "frames", "mismatches", "seconds", "status"):
            table.add_column(col, justify="right" if col in ("frames", "mismatches", "seconds") else "left")
        for r in rows:
            table.add_row(Path(r.path).name, r.codec, r.container.split(",")[0], r.backend, str(r.frames),
                          str(r.mismatches), f"{r.seconds:.3f}", r.status.split(":")[0])
        out = Console(highlight=False, soft_wrap=True)
        out.print(table)
        for r in rows:
            if ":" in r.status:
                out.print(f"{r.path}: {r.status}", markup=False)
        out.print(f"{len(rows)} videos: {sum(r.mismatches for r in rows)} frames differ in "
                  f"{sum(r.status == 'mismatch' for r in rows)} videos; {sum(r.status.startswith('error') for r in rows)} "
                  f"undecodable; {sum(r.status.startswith('refused') for r in rows)} refused", markup=False)
    if bad:
        raise typer.Exit(code=1)
