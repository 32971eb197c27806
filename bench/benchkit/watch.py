"""The server's side of a measurement: CPU time of its process trees and the SQL statements
its request log lines count.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .results import Result

# One request log line of the server (provisioning/middleware.py, format of settings.LOGGING):
# `... provisioning.requests GET /scim/v2/Users 200 3.1ms tenant=default sql=3`.
SERVER_LOG_LINE = re.compile(
    r"^\S+ \S+ \w+ provisioning\.requests (?P<method>[A-Z]+) (?P<path>\S+) "
    r"(?P<status>\d{3}) (?P<ms>[0-9.]+)ms\b(?: tenant=\S+)?(?: sql=(?P<sql>\d+))?"
)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Process:
    """A process's parent, the CPU nanoseconds of each of its threads alive, by thread id, and
    the CPU clock ticks of the children it has waited for."""

    parent: int
    threads: dict[int, int]
    waited: int


def process_table() -> dict[int, Process]:
    """Return every process (Linux /proc), by pid.

    Threads are timed by their `schedstat`, in nanoseconds: `stat`'s utime and stime count
    clock ticks of 10 ms, and a process's rounding was as large as one request's cost (a Bulk
    of member adds, 0.1-0.3 s of several processes). A kernel without schedstat gives the
    process's ticks, as one thread. The children's ticks (cutime, cstime) keep the time of a
    PostgreSQL backend or an autovacuum worker that ends during an operation: it is gone from
    /proc by its end, and its time is then in its parent's.
    """
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
            fields = stat[stat.rfind(")") + 2 :].split()  # after the name, which may hold spaces
            own = int(fields[11]) + int(fields[12])
            threads = _threads(name) if SCHEDSTAT else {0: _ns(own)}
        except OSError:  # ended since the listing
            continue
        table[int(name)] = Process(int(fields[1]), threads, int(fields[13]) + int(fields[14]))
    return table


SCHEDSTAT = Path("/proc/self/schedstat").exists()


def _threads(pid: str) -> dict[int, int]:
    return {
        int(tid): int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
        for tid in os.listdir(f"/proc/{pid}/task")
    }


def _ns(ticks: int) -> int:
    return ticks * 1_000_000_000 // CLOCK_TICKS


def tree_cpu_seconds(roots: Iterable[int], before: dict[int, Process]) -> dict[int, float]:
    """Return the CPU seconds each root process and all its descendants alive now spent since
    `before` (a `process_table`): per thread alive now, what it spent since then (all of it,
    if it started since); a thread that ended meanwhile is not counted.

    Descendants are found by parent pid over all of /proc: `/proc/PID/task/*/children` would be
    shorter, but kernels built without CONFIG_PROC_CHILDREN (this machine's) lack it.
    """
    table = process_table()
    children = collections.defaultdict(list)
    for pid, process in table.items():
        children[process.parent].append(pid)
    seconds = {}
    for root in roots:
        if root not in table or root not in before:
            continue
        nanoseconds, stack = 0, [root]
        while stack:
            pid = stack.pop()
            now, then = table[pid], before.get(pid, Process(0, {}, 0))
            nanoseconds += sum(ns - then.threads.get(tid, 0) for tid, ns in now.threads.items())
            nanoseconds += _ns(now.waited - then.waited)
            stack.extend(children[pid])
        seconds[root] = nanoseconds / 1e9
    return seconds


def logged_statements(log_path: Path, offset: int) -> list[int]:
    """Return the `sql=` of each request line the server logged after byte `offset`."""
    counts = []
    with log_path.open("rb") as log:
        log.seek(offset)
        for raw in log:
            match = SERVER_LOG_LINE.match(raw.decode("utf-8", "replace"))
            if match and match["sql"] is not None and raw.endswith(b"\n"):
                counts.append(int(match["sql"]))
    return counts


@dataclass
class ServerWatch:
    """The server's processes and log, read before and after an operation's requests: the CPU
    time the server spent on them, and the SQL statements it counted per request."""

    # Roots of the server's process trees: the server's main process, PostgreSQL's postmaster.
    pids: tuple[int, ...] = ()
    log: Path | None = None
    names: dict[int, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        for pid in self.pids:
            try:
                name = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                raise SystemExit(f"scimbench: --server-pid {pid}: no such process.") from None
            self.names[pid] = name if name not in self.names.values() else f"{name} {pid}"

    @contextlib.contextmanager
    def measure(self, result: Result, *, log: bool = True):
        """Set `result.server_cpu_s` and (with `log`) `result.sql` from what the server did
        while the block ran. The block should hold only the operation's requests."""
        before = process_table() if self.pids else None
        log_path = self.log if log and self.log and self.log.exists() else None
        offset = log_path.stat().st_size if log_path else 0
        yield
        if before is not None:
            spent = tree_cpu_seconds(self.pids, before)
            # A root that ended (the server stopped) has no figure.
            result.server_cpu_s = {self.names[pid]: spent[pid] for pid in spent}
        if log_path:
            # The server writes a request's line before its answer: no line is still to come.
            result.sql = logged_statements(log_path, offset)
