"""The live sessions of one proxy process: an LRU keyed by conversation, the fast path.

Correctness never depends on it. A session is checked out for one request at a time (a second
request of the same conversation arriving meanwhile gets a fresh session, which replays the
history it was sent and reaches the same decisions), and a session evicted, replaced or never
checked back in is simply closed or forgotten: the next request replays.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


class LiveSessions:
    """Up to `size` sessions, the least recently used closed first."""

    def __init__(self, size: int):
        self.size = size
        self._d: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def checkout(self, key: str) -> Any:
        """The conversation's live session, taken out (None if there is none)."""
        with self._lock:
            return self._d.pop(key, None)

    def checkin(self, key: str, session: Any) -> None:
        """Put a session back after its request; one already there (a concurrent request's) is closed."""
        closing = []
        with self._lock:
            old = self._d.pop(key, None)
            if old is not None and old is not session:
                closing.append(old)
            self._d[key] = session
            while len(self._d) > self.size:
                closing.append(self._d.popitem(last=False)[1])
        for s in closing:
            _close(s)

    def close_all(self) -> None:
        with self._lock:
            sessions = list(self._d.values())
            self._d.clear()
        for s in sessions:
            _close(s)

    def __len__(self) -> int:
        return len(self._d)

    def __contains__(self, key: str) -> bool:
        return key in self._d


def _close(session: Any) -> None:
    try:
        session.close()
    except Exception:  # noqa: BLE001 - closing ends a trace span; never worth an error
        pass
