"""Where a solve spends its time: one log line per stage (logger ``scheduling.stages``).

``python -m scheduling bench peers --stages`` (and ``bench scale --stages``) print them on
standard error; an application can route the logger as it likes. Nothing is logged unless
the logger is enabled for INFO.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("scheduling.stages")


class Stages:
    """Logs the seconds each stage of one solve took, and when it ended."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.last = started

    def note(self, what: str, **figures: object) -> None:
        """A line of figures within the current stage (the stage's time runs on)."""
        if log.isEnabledFor(logging.INFO):
            log.info("  %s%s", what, _figures(figures))

    def done(self, stage: str, **figures: object) -> None:
        """Stage ``stage`` ended now; ``figures`` are added to the line."""
        now = time.monotonic()
        if log.isEnabledFor(logging.INFO):
            extra = _figures(figures)
            log.info(
                "%-14s %6.2f s (ends at %6.2f s)%s",
                stage,
                now - self.last,
                now - self.started,
                extra,
            )
        self.last = now


def _figures(figures: dict[str, object]) -> str:
    return "".join(f", {k.replace('_', ' ')} {v}" for k, v in figures.items())
