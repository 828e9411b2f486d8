"""Severity levels, lowest to highest, with the colour names banks use."""

from __future__ import annotations

import enum

__all__ = ["Severity"]


class Severity(enum.IntEnum):
    """Ordered so that ``max()`` and comparisons mean "more severe"."""

    LOW = 1  # 蓝 blue
    MEDIUM = 2  # 黄 yellow
    HIGH = 3  # 橙 orange
    CRITICAL = 4  # 红 red

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def colour_zh(self) -> str:
        return {1: "蓝", 2: "黄", 3: "橙", 4: "红"}[self.value]

    @classmethod
    def parse(cls, text: str | Severity) -> Severity:
        if isinstance(text, Severity):
            return text
        try:
            return cls[str(text).strip().upper()]
        except KeyError:
            valid = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r}; valid: {valid}") from None

    def raised(self, steps: int = 1) -> Severity:
        return Severity(min(Severity.CRITICAL, max(Severity.LOW, self.value + steps)))
