"""Errors of the Loanwatch library (``monitor.app.Loanwatch`` and what it is built from).

Every error a user can cause is one of these, with a message of one line that
says what is wrong and what to do. Interfaces map them, never a traceback:
the CLI prints the message and exits with ``exit_code`` (all 1 today; click's
own usage errors are 2), and an HTTP API can map ``NotFound`` to 404 and
``InvalidRequest`` to 400. ``details`` carries the individual problems when
there are several (every bad line of a watchlist, every bad key of a config
file), so they can be listed one per line above the summary.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "EXIT_ERROR",
    "LoanwatchError",
    "ConfigError",
    "StoreUnavailable",
    "NotFound",
    "UnknownBank",
    "InputNotFound",
    "InvalidRequest",
    "BadWatchlist",
    "BadCursor",
]

#: Exit code of the embedded commands when the library refuses a request.
EXIT_ERROR = 1


class LoanwatchError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.details = list(details)

    @property
    def summary(self) -> str:
        """The one line an interface shows after listing ``details``."""
        return str(self)


class ConfigError(LoanwatchError, ValueError):
    """The configuration file is wrong; ``details`` has every problem, each naming its table and key."""

    def __init__(self, problems: Sequence[str] | str, *, path: str | None = None) -> None:
        problems = [problems] if isinstance(problems, str) else list(problems)
        if len(problems) == 1:
            message = problems[0]
        else:
            message = f"{path or 'config'}: {len(problems)} problems: " + "; ".join(problems)
        super().__init__(message, problems if len(problems) > 1 else ())
        self.problems = problems
        self.path = path

    @property
    def summary(self) -> str:
        """One line for the end of a listing of ``problems``."""
        if len(self.problems) == 1:
            return self.problems[0]
        return f"{self.path or 'config'}: {len(self.problems)} problems (listed above); nothing was loaded"


class StoreUnavailable(LoanwatchError):
    """The store cannot be opened or brought up to date (server down, bad URL, failed migration)."""


class NotFound(LoanwatchError, LookupError):
    """What was asked for does not exist, or not for this bank (another bank's rows are as good as absent)."""


class UnknownBank(NotFound):
    """The bank is not in the configuration."""


class InputNotFound(NotFound):
    """An input file named on the command line does not exist."""


class InvalidRequest(LoanwatchError, ValueError):
    """The request cannot be carried out as given; the message says which part is wrong."""


class BadWatchlist(InvalidRequest):
    """A watchlist file or entry has bad rows; ``details`` lists every one with its line."""

    def __init__(self, errors: Sequence[str], *, source: str = "watchlist") -> None:
        super().__init__(f"{source}: {len(errors)} problem(s); nothing imported", errors)

    @property
    def errors(self) -> list[str]:
        return self.details


class BadCursor(InvalidRequest):
    """A cursor that this listing did not hand out (edited, truncated, or from another listing)."""

    def __init__(self, cursor: str) -> None:
        super().__init__(f"cursor {cursor!r} is not a cursor of this listing; pass back next_cursor as given")
