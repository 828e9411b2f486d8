"""A bounded, write-through cache of enterprise histories.

Re-reading 36 months of records for every touched enterprise on every batch
would dominate the pipeline's cost; keeping every history forever would make
memory grow with the portfolio. An LRU bounded by a number of enterprises
keeps memory flat whatever the number of events, and a miss costs one
indexed read.
"""

from __future__ import annotations

from collections import OrderedDict

from detectors.records import History

__all__ = ["HistoryCache"]


class HistoryCache:
    def __init__(self, max_enterprises: int) -> None:
        self.max_enterprises = max_enterprises
        self._items: OrderedDict[str, History] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, enterprise_id: str) -> History | None:
        h = self._items.get(enterprise_id)
        if h is None:
            self.misses += 1
            return None
        self.hits += 1
        self._items.move_to_end(enterprise_id)
        return h

    def peek(self, enterprise_id: str) -> History | None:
        """Look without counting or reordering (used when applying writes)."""
        return self._items.get(enterprise_id)

    def put(self, history: History) -> None:
        self._items[history.enterprise_id] = history
        self._items.move_to_end(history.enterprise_id)
        while len(self._items) > self.max_enterprises:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()
