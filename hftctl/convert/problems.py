"""Bad input found while converting: collected with file and line so the user can find it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# Enough examples to diagnose a problem without flooding the terminal on a badly broken file.
MAX_LISTED_PER_FILE = 20


@dataclass(frozen=True)
class Problem:
    """One piece of input that was skipped (line is 1-based; 0 when it is about the whole file)."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass
class ProblemLog:
    """Problems of one input file; counts every skip, keeps the first few for the message."""

    path: str
    problems: list[Problem] = field(default_factory=list)
    skipped: int = 0

    def add(self, line: int, message: str) -> None:
        self.skipped += 1
        if len(self.problems) < MAX_LISTED_PER_FILE:
            self.problems.append(Problem(self.path, line, message))

    def add_lines(self, lines: list[int], message: str) -> None:
        """Many lines with the same fault (e.g. an unknown stream): one entry naming the first."""
        if not lines:
            return
        self.skipped += len(lines)
        more = f" (and {len(lines) - 1} more lines like it)" if len(lines) > 1 else ""
        if len(self.problems) < MAX_LISTED_PER_FILE:
            self.problems.append(Problem(self.path, lines[0], message + more))

    def merge(self, other: "ProblemLog") -> None:
        """Add the problems a worker found in part of the same file."""
        self.skipped += other.skipped
        room = MAX_LISTED_PER_FILE - len(self.problems)
        self.problems.extend(other.problems[:max(room, 0)])
