"""Contract reports: one line per check, and the error that names every failed check."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from nasbench.errors import PluginError


@dataclass
class CheckResult:
    name: str
    status: str  # ok | failed | skipped
    detail: str = ""


@dataclass
class ContractReport:
    subject: str
    results: list[CheckResult] = field(default_factory=list)

    def add(self, name: str, status: str, detail: str = "") -> None:
        self.results.append(CheckResult(name, status, detail))

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failures

    def status(self, name: str) -> str | None:
        return next((r.status for r in self.results if r.name == name), None)

    def __str__(self) -> str:
        lines = [f"contract checks of {self.subject}:"]
        lines += [f"  {r.status:<7} {r.name:<13} {r.detail}".rstrip() for r in self.results]
        return "\n".join(lines)

    def raise_for_failures(self) -> "ContractReport":
        if self.failures:
            raise ContractError(self)
        return self


class ContractError(PluginError):
    """A plugin fails one or more contract checks; the message names each check and what it found."""

    def __init__(self, report: ContractReport):
        failed = "\n".join(f"  {r.name}: {r.detail}" for r in report.failures)
        super().__init__(f"{report.subject} breaks the plugin contract ({len(report.failures)} failed check(s)):\n"
                         f"{failed}\nThe contracts are described in docs/plugins.md; nasbench.testing runs "
                         f"these checks.")
        self.report = report


class CheckFailed(Exception):
    """Raised inside a check with what it found wrong."""


def run_check(report: ContractReport, name: str, skip: Sequence[str], check: Callable[..., str | None],
               *args: Any) -> bool:
    """Run one check into ``report``; True unless it failed."""
    if name in skip:
        report.add(name, "skipped", "skipped by the caller")
        return True
    try:
        note = check(*args)
    except CheckFailed as exc:
        report.add(name, "failed", str(exc))
        return False
    except Exception as exc:  # a check that crashes inside the plugin is that plugin's failure
        report.add(name, "failed", f"{type(exc).__name__}: {exc}")
        return False
    report.add(name, "ok", note or "")
    return True


def fail_if(problems: list[str]) -> None:
    if problems:
        raise CheckFailed("; ".join(problems))


def skip_rest(report: ContractReport, names: Sequence[str], why: str) -> None:
    done = {r.name for r in report.results}
    for name in names:
        if name not in done:
            report.add(name, "skipped", why)


