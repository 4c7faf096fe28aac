"""Approximate time synchronisation of several streams (message_filters semantics; the package
is not installable here): keep a queue per stream and emit the set of messages, one per stream,
whose timestamps are all within ``slop`` seconds, choosing the earliest such set; older
messages are dropped once a set is emitted."""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Sequence


class ApproximateSync:
    """Feed ``add(stream_index, stamp_seconds, message)``; ``callback(*messages)`` fires for
    every matched set, in stream order."""

    def __init__(self, streams: int, slop: float, callback: Callable[..., Any],
                 queue_size: int = 10) -> None:
        if streams < 2 or slop < 0 or queue_size < 1:
            raise ValueError("need >= 2 streams, slop >= 0 and queue_size >= 1")
        self.queues: list[deque] = [deque(maxlen=queue_size) for _ in range(streams)]
        self.slop = slop
        self.callback = callback
        self.matched = 0
        self.dropped = 0

    def add(self, stream: int, stamp: float, message: Any) -> None:
        """Add a message and emit whatever sets it completes."""
        queue = self.queues[stream]
        if queue and stamp < queue[-1][0]:
            self.dropped += 1          # out of order: message_filters drops it too
            return
        if len(queue) == queue.maxlen:
            self.dropped += 1
        queue.append((stamp, message))
        self._match()

    def _match(self) -> None:
        while all(self.queues):
            pivot = max(q[0][0] for q in self.queues)     # the latest of the heads
            picks: list[tuple[float, Any] | None] = []
            for q in self.queues:
                best = min(q, key=lambda item: abs(item[0] - pivot))
                picks.append(best if abs(best[0] - pivot) <= self.slop else None)
            if all(p is not None for p in picks):
                stamps = [p[0] for p in picks]
                if max(stamps) - min(stamps) <= self.slop:
                    for q, pick in zip(self.queues, picks):
                        while q and q[0][0] <= pick[0]:
                            if q.popleft() is not pick:
                                self.dropped += 1
                    self.matched += 1
                    self.callback(*[p[1] for p in picks])
                    continue
            # the oldest head cannot be matched any more: drop it
            oldest = min(range(len(self.queues)), key=lambda i: self.queues[i][0][0])
            self.queues[oldest].popleft()
            self.dropped += 1

    def pending(self) -> Sequence[int]:
        """Messages waiting per stream."""
        return [len(q) for q in self.queues]
