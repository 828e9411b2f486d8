"""Reading typed values out of a parsed TOML file, collecting every problem on the way.

A bad value is noted (table and key, what was expected, what was found) and
replaced by its default so that parsing goes on: ``loanwatch config check``
then lists every mistake in the file at once, not one per run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from detectors.severity import Severity

__all__ = ["Problems"]

def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return "/".join(k.__name__ for k in kinds)


class Problems:
    """Every problem found in one file; each reads ``table.key: what is wrong``."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")

    def keys(self, table: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
        """Note every key of ``table`` that is not ``allowed`` (a misspelt key would otherwise be ignored)."""
        allowed = sorted(allowed)
        for key in sorted(set(table) - set(allowed)):
            self.add(where, f"unknown key {key!r}; valid keys: {', '.join(allowed)}")

    def table(self, parent: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
        """A sub-table (empty when absent or not a table)."""
        value = parent.get(key, {})
        if not isinstance(value, dict):
            self.add(f"{where}.{key}" if where else key, f"expected a table, got {type(value).__name__}")
            return {}
        return value

    def get(self, table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any,
            where: str) -> Any:
        """``table[key]`` when it has the right type (an integer passes as a float), else ``default``."""
        if key not in table:
            return default
        value = table[key]
        if isinstance(value, bool) and kind is not bool:
            self.add(f"{where}.{key}", f"expected {_kind_name(kind)}, got a boolean")
            return default
        if kind is float and isinstance(value, int):
            return float(value)
        if not isinstance(value, kind):
            self.add(f"{where}.{key}", f"expected {_kind_name(kind)}, got {type(value).__name__} {value!r}")
            return default
        return value

    def positive(self, table: Mapping[str, Any], key: str, kind: type, default: Any, where: str) -> Any:
        value = self.get(table, key, kind, default, where)
        if value is not None and value <= 0:
            self.add(f"{where}.{key}", f"must be > 0, got {value}")
            return default
        return value

    def non_negative(self, table: Mapping[str, Any], key: str, kind: type, default: Any, where: str) -> Any:
        value = self.get(table, key, kind, default, where)
        if value is not None and value < 0:
            self.add(f"{where}.{key}", f"must be >= 0, got {value}")
            return default
        return value

    def severity(self, table: Mapping[str, Any], key: str, default: str, where: str) -> Severity:
        try:
            return Severity.parse(self.get(table, key, str, default, where))
        except ValueError as exc:
            self.add(f"{where}.{key}", str(exc))
            return Severity.parse(default)

    def choices(self, table: Mapping[str, Any], key: str, where: str, valid: Iterable[str], what: str,
                valid_label: str = "valid") -> tuple[str, ...]:
        """A list of names from ``valid`` (unknown ones are noted and dropped)."""
        valid = tuple(valid)
        out = []
        for v in self.get(table, key, list, [], where):
            if v in valid:
                out.append(v)
            else:
                self.add(f"{where}.{key}",
                         f"unknown {what} {v!r}; {valid_label}: {', '.join(valid) or '(none defined)'}")
        return tuple(out)
