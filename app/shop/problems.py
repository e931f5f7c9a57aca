"""What is wrong with a shop folder: one line per problem, ``file:line: what is wrong — how to fix it``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]

# A file with one mistake repeated on every row must not bury the other problems (or the terminal).
KEEP_PER_KIND = 200
SHOW_PER_KIND = 10


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem; ``file`` is a name inside the shop folder ("" for the folder), ``code`` groups alike ones."""

    severity: Severity
    file: str
    line: int | None
    what: str
    fix: str
    code: str

    def format(self, folder: Path | str | None = None) -> str:
        """``folder/file:line: what — fix``; warnings say so after the location."""
        if folder is None:
            where = self.file or "."
        else:
            where = str(Path(folder) / self.file) if self.file else str(folder)
        if self.line is not None:
            where = f"{where}:{self.line}"
        label = "warning: " if self.severity == "warning" else ""
        return f"{where}: {label}{self.what} — {self.fix}"


@dataclass(slots=True)
class Problems:
    """Collects problems while a shop folder is read; keeps the first few hundred of each kind, counts all."""

    kept: list[Problem] = field(default_factory=list)
    totals: Counter[tuple[Severity, str, str]] = field(default_factory=Counter)

    def add(self, problem: Problem) -> None:
        """Record ``problem``."""
        key = (problem.severity, problem.file, problem.code)
        self.totals[key] += 1
        if self.totals[key] <= KEEP_PER_KIND:
            self.kept.append(problem)

    def error(self, file: str, line: int | None, what: str, fix: str, code: str) -> None:
        """Something that stops the shop from loading."""
        self.add(Problem("error", file, line, what, fix, code))

    def warning(self, file: str, line: int | None, what: str, fix: str, code: str) -> None:
        """Something missing or suspicious; the shop still loads."""
        self.add(Problem("warning", file, line, what, fix, code))

    @property
    def errors(self) -> int:
        """How many errors, counted in full."""
        return sum(n for (severity, _, _), n in self.totals.items() if severity == "error")

    @property
    def warnings(self) -> int:
        """How many warnings, counted in full."""
        return sum(n for (severity, _, _), n in self.totals.items() if severity == "warning")

    def errors_in(self, file: str) -> int:
        """How many errors one file has."""
        return sum(
            n for (severity, name, _), n in self.totals.items() if severity == "error" and name == file
        )

    def of(self, severity: Severity) -> list[Problem]:
        """The kept problems of one severity, in the order they were found."""
        return [p for p in self.kept if p.severity == severity]

    def lines(
        self, severity: Severity, folder: Path | str | None = None, per_kind: int | None = SHOW_PER_KIND
    ) -> list[str]:
        """Formatted problems of one severity, grouped by kind; past ``per_kind``, one line says how many more."""
        groups: dict[tuple[str, str], list[Problem]] = {}
        for problem in self.of(severity):
            groups.setdefault((problem.file, problem.code), []).append(problem)
        out: list[str] = []
        for (file, code), problems in groups.items():
            shown = problems if per_kind is None else problems[:per_kind]
            out.extend(problem.format(folder) for problem in shown)
            hidden = self.totals[(severity, file, code)] - len(shown)
            if hidden > 0:
                where = str(Path(folder) / file) if folder is not None and file else file or "."
                out.append(f"{where}: … and {hidden:,} more like this")
        return out
