"""How the held-out scripts fail: one line saying what is wrong and where, and exit code 2.

Every input error of these scripts is a ``ValueError`` (``ScoreInputError``,
``FeedOrderError`` and the generator's argument checks are), and every file
problem an ``OSError``; nothing else is caught, so a bug still shows as one.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

__all__ = ["EXIT_BAD_INPUT", "run"]

EXIT_BAD_INPUT = 2


def run(script: str, work: Callable[[], object]) -> int:
    """Run ``work``; 0 when it returns, 2 with a one-line message on bad input or a file problem."""
    try:
        work()
    except ValueError as exc:
        print(f"{script}: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"{script}: {exc.filename or 'output'}: {exc.strerror or exc}", file=sys.stderr)
    else:
        return 0
    return EXIT_BAD_INPUT
