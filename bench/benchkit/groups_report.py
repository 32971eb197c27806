"""The `groups` run's report: a table per size, verdicts against its targets, and its JSON."""

from __future__ import annotations

from .groups import GROUP_CHECKPOINTS, MEMBER_BATCH
from .results import Result, fmt, ratio


def _q3(result: Result | None, *, server: bool = False) -> str:
    """Return "p50 / p95 / p99" of a result, client-side or from the server log."""
    if result is None or (not result.latencies_ms and not server):
        return "-"
    if server:
        s = result.extra.get("server_ms")
        return " / ".join(fmt(s[k]) for k in ("p50", "p95", "p99")) if s else "-"
    q = result.quantiles()
    return " / ".join(fmt(q[k]) for k in ("p50", "p95", "p99"))


def _bytes(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def _p50(result: Result | None, *, server: bool) -> float | None:
    """Return the median latency of a result, client-side or from the server log."""
    if result is None:
        return None
    if server:
        return (result.extra.get("server_ms") or {}).get("p50")
    return result.quantiles()["p50"]


def groups_report(run: dict) -> str:
    """Return the group run as Markdown tables and target verdicts."""
    rows = run["sizes"]
    has_server = any("server_ms" in r["add_1"].extra for r in rows)
    out = []
    head = "| group size | 1-member add p50 / p95 / p99 ms | 100-member add p50 / p95 / p99 ms |"
    rule = "| ---: | ---: | ---: |"
    if has_server:
        head += " server: 1-member / 100-member add p50 ms |"
        rule += " ---: |"
    head += (
        f" p50 ÷ 100-member group's, same moment{' (server)' if has_server else ''}: "
        "1-member / 100-member |"
    )
    rule += " ---: |"
    out += [head + " failed |", rule + " ---: |"]
    lent = [r for r in rows if r["base_size"] != r["size"]]
    for r in rows:
        size = f"{r['size']}" + ("*" if r in lent else "")
        line = f"| {size} | {_q3(r['add_1'])} | {_q3(r['add_100'])} |"
        if has_server:
            line += (
                f" {fmt(_p50(r['add_1'], server=True))} / {fmt(_p50(r['add_100'], server=True))} |"
            )
        ratios = [
            ratio(_p50(r[k], server=has_server), _p50(r[f"ref_{k}"], server=has_server))
            for k in ("add_1", "add_100")
        ]
        line += " " + " / ".join("-" if x is None else f"{x:.2f}" for x in ratios) + " |"
        failed = sum(
            v.failed
            for k, v in r.items()
            if isinstance(v, Result) and k not in ("excluded_get", "full_get")
        )
        out.append(line + f" {failed} |")
    for r in lent:
        out.append(
            f"\n\\* {r['size']}: "
            + (f"only {r['outside']} of the users read are" if r["outside"] else "no user read is")
            + f" outside the group at this size, so the timed adds re-add "
            f"{r['size'] - r['base_size']} of its members, removed first: the group held "
            f"{r['base_size']} members before each timed add."
        )
    out.append(f"\n{_grow_line(run['grow'])}")
    out.append("")
    head = "| group size | GET excludedAttributes=members p50 / p95 ms |"
    rule = "| ---: | ---: |"
    if has_server:
        head += " server p50 / p95 ms |"
        rule += " ---: |"
    out += [
        head + " GET with members p50 / p95 ms | response | members verified | failed |",
        rule + " ---: | ---: | --- | ---: |",
    ]
    for r in rows:
        ex, full = r["excluded_get"], r["full_get"]
        q, fq = ex.quantiles(), full.quantiles()
        line = f"| {r['size']} | {fmt(q['p50'])} / {fmt(q['p95'])} |"
        if has_server:
            s = ex.extra.get("server_ms")
            line += f" {fmt(s and s['p50'])} / {fmt(s and s['p95'])} |"
        verified = "yes" if full.extra.get("members_verified") else "NO"
        out.append(
            line + f" {fmt(fq['p50'])} / {fmt(fq['p95'])} | "
            f"{_bytes(full.extra.get('response_bytes'))} | {verified} | "
            f"{ex.failed + full.failed} |"
        )
    c = run["concurrency"]
    if c is not None:
        e = c.extra
        line = (
            f"| {e.get('threads', '-')} | {e.get('wall_seconds', '-')} | {_q3(c)} |"
            f" {_q3(c, server=True)} | {c.failed} |"
            f" {'-' if e.get('lost_updates') is None else e['lost_updates']} |"
        )
        out += [
            "",
            "| concurrent 1-member adds | wall s | p50 / p95 / p99 ms | server p50 / p95 / p99 ms "
            "| failed | lost updates |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |",
            line,
        ]
    out += ["", *groups_verdicts(run)]
    return "\n".join(out)


def _grow_line(grow: Result) -> str:
    q = grow.quantiles()
    return (
        f"growing: {grow.requests} PATCH{'es' * (grow.requests != 1)} of up to {MEMBER_BATCH} "
        f"members, p50 {fmt(q['p50'])} ms, "
        f"p95 {fmt(q['p95'])} ms, max {fmt(q['max'])} ms, {grow.failed} failed"
    )


def groups_verdicts(run: dict) -> list[str]:
    """Return one line per target: add latency flat with size, excluded GET under 5 ms."""
    rows = run["sizes"]
    lines = []

    if rows:
        first, last = rows[0], rows[-1]
        for key, label in (("add_1", "1-member"), ("add_100", "100-member")):
            ratios = {
                (against, side): ratio(
                    _p50(last[key], server=side == "server"),
                    _p50(
                        first[key] if against == "earlier" else last[f"ref_{key}"],
                        server=side == "server",
                    ),
                )
                for against in ("earlier", "alongside")
                for side in ("client", "server")
            }
            if last is first:
                ratios = {k: v for k, v in ratios.items() if k[0] == "alongside"}
            shown = {k: v for k, v in ratios.items() if v is not None}
            if not shown:
                continue
            # The verdict: the comparison made at the same moment, by the server's own time
            # when the log was read (it leaves out the client and the connection).
            decisive = next(
                (
                    shown[k]
                    for k in (("alongside", "server"), ("alongside", "client"))
                    if k in shown
                ),
                None,
            )
            parts = []
            if any(against == "earlier" for against, _ in shown):
                parts.append(
                    f"÷ the same at {first['size']}, measured earlier: "
                    + ", ".join(f"{v:.2f}x {k[1]}" for k, v in shown.items() if k[0] == "earlier")
                )
            parts.append(
                f"÷ a {GROUP_CHECKPOINTS[0]}-member group measured alongside: "
                + ", ".join(f"{v:.2f}x {k[1]}" for k, v in shown.items() if k[0] == "alongside")
            )
            met = "-" if decisive is None else ("met" if decisive <= 1.2 else "NOT met")
            lines.append(
                f"{label} add p50 at {last['size']} members {'; '.join(parts)}; "
                f"target <= 1.2x: {met}"
            )
    # The worst p50 and p95 over the sizes, client-side and by the server's own time.
    worst: dict[tuple[str, str], tuple[float, int]] = {}
    for r in rows:
        ex = r["excluded_get"]
        server = ex.extra.get("server_ms") or {}
        for side, quantiles in (("client", ex.quantiles()), ("server", server)):
            for q in ("p50", "p95"):
                value = quantiles.get(q)
                if value is not None and ((side, q) not in worst or value > worst[side, q][0]):
                    worst[side, q] = (value, r["size"])
    if worst:
        figures = "; ".join(
            f"{side} "
            + ", ".join(
                f"{q} {fmt(worst[side, q][0])} ms (at {worst[side, q][1]})"
                for q in ("p50", "p95")
                if (side, q) in worst
            )
            for side in ("server", "client")
            if (side, "p50") in worst
        )
        decisive = worst.get(("server", "p50"))
        met = "-" if decisive is None else ("met" if decisive[0] < 5 else "NOT met")
        lines.append(
            f"GET excludedAttributes=members, worst over sizes: {figures}; target < 5 ms server "
            f"time (p50): {met} (client time adds connecting, the round trip and parsing)"
        )
    if run["note"]:
        lines.append(f"incomplete: {run['note']}")
    return lines


def groups_json(run: dict) -> dict:
    """Return the group run for the results file."""

    def result(r: Result | None):
        return None if r is None else r.to_json()

    return {
        "population": run["population"],
        "members": run["members"],
        "checkpoints": run["checkpoints"],
        "seconds": round(run["seconds"], 3),
        "note": run["note"],
        "group_display_name": f"scimbench {run['run_id']}",
        "sizes": [
            {k: (result(v) if isinstance(v, Result) else v) for k, v in row.items()}
            for row in run["sizes"]
        ],
        "grow": result(run["grow"]),
        "setup": result(run["setup"]),
        "concurrency": result(run["concurrency"]),
        "verdicts": groups_verdicts(run),
    }


def groups_failed(run: dict) -> int:
    results = [run["grow"], run["setup"], run["concurrency"]]
    for row in run["sizes"]:
        results += [v for v in row.values() if isinstance(v, Result)]
    return sum(r.failed for r in results if r is not None)
