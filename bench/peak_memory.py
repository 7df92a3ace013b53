"""Peak resident memory of a benchmark step, sampled in a background thread (psutil)."""
from __future__ import annotations

import threading
import time
from typing import Self

import psutil


class PeakMemory:
    """Samples the RSS of this process (and of its children, e.g. Spark's JVM); `peak_mb` is the maximum seen."""

    def __init__(self, interval: float = 0.05, *, children: bool = True):
        self.interval, self.process, self.children = interval, psutil.Process(), children
        self.peak, self._stop = 0, threading.Event()

    def _rss(self) -> int:
        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True) if self.children else ():
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

    def __enter__(self) -> Self:
        self.peak = self._rss()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20
