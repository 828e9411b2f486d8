"""Unified Social Credit Code (统一社会信用代码, GB 32100-2015).

The 18th character is a mod-31 check over the first 17. A code that fails it
is almost always a typo or a truncated export, so the event contract rejects
it instead of creating a phantom enterprise.
"""

from __future__ import annotations

__all__ = ["ALPHABET", "WEIGHTS", "check_character", "is_valid_uscc", "uscc_problem", "complete_uscc"]

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def check_character(body: str) -> str:
    """Check character for the first 17 characters of a code."""
    if len(body) != 17:
        raise ValueError(f"USCC body must be 17 characters, got {len(body)}")
    try:
        total = sum(_VALUE[c] * w for c, w in zip(body, WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not in the USCC alphabet") from None
    return ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> tuple[str, str] | None:
    """Why ``code`` is not a valid USCC, as (reason, detail), or None if it is.

    Reasons are machine-readable: ``bad_enterprise_id`` for the shape,
    ``bad_check_character`` when only the check fails.
    """
    if not isinstance(code, str):
        return "bad_enterprise_id", f"enterprise_id must be a string, got {type(code).__name__}"
    if len(code) != 18:
        return "bad_enterprise_id", f"enterprise_id must be 18 characters, got {len(code)}"
    bad = [c for c in code if c not in _VALUE]
    if bad:
        return "bad_enterprise_id", f"enterprise_id has character {bad[0]!r} outside the USCC alphabet"
    expected = check_character(code[:17])
    if code[17] != expected:
        return "bad_check_character", f"check character is {code[17]!r}, expected {expected!r}"
    return None


def is_valid_uscc(code: str) -> bool:
    return uscc_problem(code) is None


def complete_uscc(body: str) -> str:
    """Append the check character: used by the simulator and the tests."""
    return body + check_character(body)
