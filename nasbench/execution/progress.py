"""The live line of a study (runs done / running / failed, elapsed, estimated remaining) and the
summary table at its end. ``Progress`` is also where backends hand in each run's outcome, so that an
interrupted study can still say what it finished."""
from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any, Callable, Iterable, TextIO

from nasbench import schema
from nasbench.execution.trial import TrialOutcome
from nasbench.runner import first_line

REFRESH_S = 0.5  # at most two redraws a second from per-epoch rows


def clock_text(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """Counts of a study's runs, redrawn in place on a terminal and printed per finished run otherwise."""

    def __init__(self, name: str, total: int, cached: Iterable[TrialOutcome] = (), stream: TextIO | None = None,
                 interactive: bool | None = None, clock: Callable[[], float] = time.monotonic,
                 on_finished: Callable[[TrialOutcome], None] | None = None):
        self.name, self.total, self.clock, self.on_finished = name, total, clock, on_finished
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.outcomes: dict[str, TrialOutcome] = {o.key: o for o in cached}
        self.running: dict[str, float] = {}
        self.rows: Counter = Counter()  # curve rows received per run (from Tune on the ray backend)
        self.started_at = clock()
        self._first_start: float | None = None  # throughput is measured from here, past the backend's start-up
        self._finished_here = 0
        self._drawn_at = -REFRESH_S

    # -- events from the backends -------------------------------------------------------------------
    def started(self, key: str) -> None:
        self.running[key] = self.clock()
        if self._first_start is None:
            self._first_start = self.running[key]
        self.refresh(force=self.interactive)

    def row(self, key: str, row: dict[str, Any]) -> None:
        self.rows[key] += 1
        if self.interactive:
            self.refresh()

    def finished(self, outcome: TrialOutcome) -> None:
        self.running.pop(outcome.key, None)
        self.outcomes[outcome.key] = outcome
        self._finished_here += 1
        if self.on_finished is not None:
            self.on_finished(outcome)
        if outcome.status == schema.STATUS_FAILED:
            where = f" (traceback in {outcome.run_dir}/manifest.json)" if outcome.run_dir else ""
            self.log(f"failed: {outcome.key}: {first_line(outcome.error)}{where}")
        self.refresh(force=True)

    def log(self, message: str) -> None:
        """A message above the live line."""
        self._clear()
        print(message, file=self.stream, flush=True)
        if self.interactive:
            self.refresh(force=True)

    # -- the line -----------------------------------------------------------------------------------
    def counts(self) -> Counter:
        return Counter(o.status for o in self.outcomes.values())

    def line(self) -> str:
        counts, now = self.counts(), self.clock()
        done, elapsed = len(self.outcomes), now - self.started_at
        eta = None
        if self._finished_here and self._first_start is not None:
            eta = (now - self._first_start) / self._finished_here * (self.total - done)
        return (f"study {self.name}: {done}/{self.total} done ({counts[schema.STATUS_FAILED]} failed, "
                f"{counts['cached']} cached), {len(self.running)} running, {clock_text(elapsed)} elapsed, "
                f"~{clock_text(eta if done < self.total else 0)} left")

    def refresh(self, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self._drawn_at < REFRESH_S:
            return
        self._drawn_at = now
        if self.interactive:
            self.stream.write("\r\x1b[K" + self.line())
            self.stream.flush()
        elif force:
            print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        if self.interactive:
            self.refresh(force=True)
            self.stream.write("\n")
            self.stream.flush()

    def _clear(self) -> None:
        if self.interactive:
            self.stream.write("\r\x1b[K")


# -- the summary ------------------------------------------------------------------------------------
def summary_table(outcomes: list[TrialOutcome]) -> str:
    """One line per run: where it is, its status, its test error, its run time and where it ran."""
    header = ("task", "method", "seed", "status", "test error", "run s", "node")
    rows = [header] + [(o.task, o.method, str(o.seed), o.status, _error_text(o),
                        "-" if o.run_wall_s is None else f"{o.run_wall_s:.1f}", (o.node or "-")[:12])
                       for o in outcomes]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    reasons = [f"  {o.key}: {first_line(o.error)}" for o in outcomes
               if o.status in (schema.STATUS_FAILED, schema.STATUS_SKIPPED)]
    return "\n".join(lines + (["why failed or skipped:"] + reasons if reasons else []))


def _error_text(outcome: TrialOutcome) -> str:
    if outcome.metric_error is None:
        return "-"
    return f"{outcome.metric_error:.4g} ({outcome.error_name})"
