"""Progress bars and console output (rich), shared by every long-running stage."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def console(quiet: bool = False) -> Console:
    """Returns a rich console on stderr (silent when ``quiet``)."""
    return Console(stderr=True, quiet=quiet, highlight=False)


def progress_bar(disable: bool = False, transient: bool = False) -> Progress:
    """Returns a rich progress bar (M/N done, elapsed, ETA) on stderr."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=disable or not sys.stderr,
        transient=transient,
    )
