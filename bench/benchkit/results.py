"""What an operation measured (`Result`), and the arithmetic of its figures."""

from __future__ import annotations

import collections
import math
import threading
from dataclasses import dataclass, field

# How many failure details (status, scimType, detail) to keep per operation for the report.
SAMPLES_KEPT = 5


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Return the `fraction` percentile of `sorted_values`, interpolating between ranks."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    weight = position - low
    return sorted_values[low] * (1 - weight) + sorted_values[high] * weight


@dataclass
class Result:
    """What one operation measured: latencies of good answers, counted failures, wall time."""

    name: str
    latencies_ms: list[float] = field(default_factory=list)
    failures: collections.Counter = field(default_factory=collections.Counter)
    samples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    supported: bool = True
    # Why the operation stopped early, or why it did not run.
    note: str = ""
    # Operation-specific figures (created/skipped users, export verification, ...).
    extra: dict = field(default_factory=dict)
    # The server's side (ServerWatch): CPU seconds per process tree (--server-pid), and the
    # sql= of each request line it logged (--server-log); None when not measured.
    server_cpu_s: dict[str, float] | None = None
    sql: list[int] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ok(self, ms: float) -> None:
        with self._lock:
            self.latencies_ms.append(ms)

    def fail(self, reason: str, sample: str = "") -> None:
        with self._lock:
            self.failures[reason] += 1
            if sample and len(self.samples) < SAMPLES_KEPT:
                self.samples.append(sample)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + self.failed

    @property
    def throughput(self) -> float | None:
        return self.requests / self.seconds if self.seconds > 0 else None

    def server_cpu_ms(self) -> dict[str, float] | None:
        """Return the server's CPU milliseconds per request: in total, and per process tree."""
        if self.server_cpu_s is None or not self.requests:
            return None
        per_tree = {k: 1000 * v / self.requests for k, v in self.server_cpu_s.items()}
        return {"total": sum(per_tree.values()), **per_tree}

    def sql_per_request(self) -> dict | None:
        """Return the mean and max of the SQL statements the server logged per request."""
        if not self.sql:
            return None
        return {"mean": sum(self.sql) / len(self.sql), "max": max(self.sql), "lines": len(self.sql)}

    def quantiles(self) -> dict[str, float | None]:
        ordered = sorted(self.latencies_ms)
        return {
            "p50": percentile(ordered, 0.50),
            "p95": percentile(ordered, 0.95),
            "p99": percentile(ordered, 0.99),
            "max": ordered[-1] if ordered else None,
        }

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "supported": self.supported,
            "requests": self.requests,
            "failed": self.failed,
            "failures": dict(self.failures),
            "failure_samples": self.samples,
            "seconds": round(self.seconds, 3),
            "throughput_rps": rounded(self.throughput),
            "latency_ms": {k: rounded(v) for k, v in self.quantiles().items()},
            "server_cpu_ms_per_request": _round_values(self.server_cpu_ms()),
            "sql_per_request": _round_values(self.sql_per_request()),
            "note": self.note,
            **self.extra,
        }

    def summary(self) -> str:
        if not self.supported:
            return f"{self.name}: {self.note}"
        q = self.quantiles()
        line = (
            f"{self.name}: {self.requests} requests in {self.seconds:.2f} s, "
            f"{fmt(self.throughput)} req/s, p50 {fmt(q['p50'])} ms, "
            f"p95 {fmt(q['p95'])} ms, p99 {fmt(q['p99'])} ms, {self.failed} failed"
        )
        cpu, sql = self.server_cpu_ms(), self.sql_per_request()
        if cpu:
            trees = ", ".join(f"{k} {fmt(v)}" for k, v in cpu.items() if k != "total")
            line += f"; server CPU {fmt(cpu['total'])} ms/request ({trees})"
        if sql:
            line += f"; SQL {sql['mean']:.1f}/request (max {sql['max']})"
        if self.note:
            line += f" ({self.note})"
        for reason, count in self.failures.most_common():
            line += f"\n  failed: {count} x {reason}"
        for sample in self.samples:
            line += f"\n  e.g. {sample}"
        return line


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _round_values(values: dict | None) -> dict | None:
    return None if values is None else {k: rounded(v) for k, v in values.items()}


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None
