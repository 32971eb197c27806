"""Tables and JSON files of the results."""

from __future__ import annotations

import json
from pathlib import Path

from .results import Result, fmt


def export_line(result: Result) -> str:
    """Return the one-line verdict of an export."""
    if not result.supported:
        return f"{result.name}: {result.note}"
    e = result.extra
    if e.get("exactly_once"):
        verdict = "every user seen exactly once"
    elif result.note:
        verdict = f"incomplete, {result.note} (totalResults {e.get('total_results')})"
    else:
        verdict = (
            f"NOT exact: totalResults {e.get('total_results')}, {e.get('users_seen')} distinct "
            f"users seen, {e.get('repeats')} repeats"
        )
    line = (
        f"{result.name}: {e.get('users_seen')} users in {result.seconds:.2f} s "
        f"({fmt(e.get('users_per_s'))} users/s, {result.requests} pages); {verdict}"
    )
    for reason, count in result.failures.most_common():
        line += f"\n  failed: {count} x {reason}"
    for sample in result.samples:
        line += f"\n  e.g. {sample}"
    return line


def markdown_table(results: list[Result]) -> str:
    """Return the results as a Markdown table."""
    lines = [
        "| operation | requests | throughput req/s | p50 ms | p95 ms | p99 ms "
        "| server CPU ms/req | SQL/req mean (max) | failed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        if not r.supported:
            label = r.note.split(" (")[0]  # e.g. "filter not supported by server"
            lines.append(f"| {r.name} | {label} | - | - | - | - | - | - | - |")
            continue
        q = r.quantiles()
        cpu, sql = r.server_cpu_ms(), r.sql_per_request()
        lines.append(
            f"| {r.name} | {r.requests} | {fmt(r.throughput)} | {fmt(q['p50'])} | "
            f"{fmt(q['p95'])} | {fmt(q['p99'])} | {fmt(cpu and cpu['total'])} | "
            f"{_sql_cell(sql)} | {r.failed} |"
        )
    return "\n".join(lines)


def _sql_cell(sql: dict | None) -> str:
    return f"{sql['mean']:.1f} ({sql['max']})" if sql else "-"


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
