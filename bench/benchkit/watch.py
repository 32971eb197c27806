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


def process_table() -> dict[int, tuple[int, int]]:
    """Return the parent pid and CPU clock ticks of every process (Linux /proc).

    The ticks are the process's own (utime, stime) and those of the children it has waited for
    (cutime, cstime): a PostgreSQL backend or an autovacuum worker that ends during an operation
    is gone from /proc by its end, and its time is then in its parent's.
    """
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:  # ended since the listing
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # after the name, which may hold spaces
        table[int(name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]))
    return table


def tree_cpu_seconds(roots: Iterable[int]) -> dict[int, float]:
    """Return the CPU seconds of each root process and all its descendants alive now.

    Descendants are found by parent pid over all of /proc: `/proc/PID/task/*/children` would be
    shorter, but kernels built without CONFIG_PROC_CHILDREN (this machine's) lack it.
    """
    table = process_table()
    children = collections.defaultdict(list)
    for pid, (parent, _) in table.items():
        children[parent].append(pid)
    seconds = {}
    for root in roots:
        if root not in table:
            continue
        ticks, stack = 0, [root]
        while stack:
            pid = stack.pop()
            ticks += table[pid][1]
            stack.extend(children[pid])
        seconds[root] = ticks / CLOCK_TICKS
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
        cpu = tree_cpu_seconds(self.pids) if self.pids else None
        log_path = self.log if log and self.log and self.log.exists() else None
        offset = log_path.stat().st_size if log_path else 0
        yield
        if cpu is not None:
            end = tree_cpu_seconds(self.pids)
            # A root that ended (the server stopped) has no figure.
            result.server_cpu_s = {
                self.names[pid]: end[pid] - cpu[pid]
                for pid in self.pids
                if pid in cpu and pid in end
            }
        if log_path:
            # The server writes a request's line before its answer: no line is still to come.
            result.sql = logged_statements(log_path, offset)
