"""Progress bars and console output (rich), shared by every long-running stage.

A progress bar is a live display: it only makes sense on a terminal. When stderr is not one (a
pipe, a log file, CI) the bar is off and the stage's plain log lines are all that is written, so
logs carry no redrawn bars or empty lines.
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def console(quiet: bool = False) -> Console:
    """Returns a rich console on stderr (silent when ``quiet``)."""
    return Console(stderr=True, quiet=quiet, highlight=False)


def progress_bar(disable: bool = False, transient: bool = False, *extra: ProgressColumn) -> Progress:
    """Returns a rich progress bar (M/N done, ``extra`` columns, elapsed, ETA) on stderr; disabled
    when asked or when stderr is not a terminal."""
    err = Console(stderr=True)
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *extra,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=disable or not sys.stderr or not err.is_terminal,
        transient=transient,
    )
