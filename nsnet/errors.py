"""The errors that mean "bad input": shown to users as one line with exit code 2, not a traceback.

Every such error derives from :class:`UserError` (most also from the builtin they used to be, so
``except ValueError`` keeps working). Anything else that escapes a command is a bug and keeps its
traceback.
"""

from __future__ import annotations

import errno
import functools
from typing import Any, Callable


class UserError(Exception):
    """Base of every error whose message is meant for the user (one line, exit code 2)."""


class ConfigError(UserError, ValueError):
    """An option value is out of range or inconsistent with the others."""


class DiskFullError(UserError, OSError):
    """The disk (or quota) filled up while writing; the message says where and how to go on."""


def first_line(err: BaseException) -> str:
    """Returns the first line of an exception's message (at most 200 characters; its type when empty)."""
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:200]


def is_disk_full(err: BaseException) -> bool:
    """Returns True when ``err`` (or its cause chain) is "no space left" / "disk quota exceeded"."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        err = err.__cause__ or err.__context__
    return False


# Errors that are the user's to fix although they are not UserError: a training run that diverged.
_ALSO_USER_ERRORS: tuple[type[BaseException], ...] = (FloatingPointError,)


def user_error_types() -> tuple[type[BaseException], ...]:
    """Returns the exception types reported as one line instead of a traceback."""
    return (UserError, *_ALSO_USER_ERRORS)


def _fail(message: str) -> None:
    """Prints ``error: message`` as one red line on stderr and exits with code 2."""
    import typer
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code=2) from None


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorates a typer command: user errors become one red ``error:`` line and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except user_error_types() as err:
            _fail(str(err))
        except OSError as err:
            if not is_disk_full(err):
                raise
            _fail(f"no space left on the device ({err.filename or 'while writing'}); free some space and run the "
                  "same command again")

    return wrapper
