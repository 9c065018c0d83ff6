"""Figures of scripts/class_ws.py: percentiles by page and by action, the capacity curve and its verdict.

The target is judged on the students' own interactions (page views, clicks, Launch); the reruns a Live run
page's fragment timer sends by itself are reported beside them ("auto-rerun"), not mixed in: they are many and
short, and would pull the percentiles down.
"""

from __future__ import annotations

import statistics
from collections import Counter

TARGET = {"p95_s": 1.0, "p50_s": 0.2, "errors": 0}
AUTO = "auto-rerun"


def pct(values: list[float], q: float) -> float | None:
    """The q-th percentile (nearest rank) of `values`; None when empty."""
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(q / 100 * len(v) + 0.5)) - 1))]


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_s": pct(values, 50), "p95_s": pct(values, 95), "p99_s": pct(values, 99),
            "max_s": max(values) if values else None}


def level_figures(records: list[dict], errors: list[dict]) -> dict:
    """Percentiles overall (students' actions), for the auto-reruns, by page and by action; bytes per view."""
    own = [r for r in records if r["action"] != AUTO]
    out = {"actions": summary([r["s"] for r in own]), "auto": summary([r["s"] for r in records if r["action"] == AUTO]),
           "by_page": {}, "by_action": {}, "errors": len(errors),
           "errors_by_kind": dict(Counter(e["kind"] for e in errors))}
    for key, group in (("by_page", "page"), ("by_action", "action")):
        for name in sorted({r[group] for r in records}):
            out[key][name] = summary([r["s"] for r in records if r[group] == name])
    views = [r for r in records if r["action"] == "view"]
    out["bytes_per_view"] = {p: statistics.mean(r["bytes"] for r in views if r["page"] == p)
                             for p in sorted({r["page"] for r in views})}
    out["bytes_per_view_mean"] = statistics.mean(r["bytes"] for r in views) if views else None
    out["bytes_per_action_mean"] = statistics.mean(r["bytes"] for r in own) if own else None
    return out


def holds(fig: dict) -> bool:
    a = fig["actions"]
    return (a["n"] > 0 and fig["errors"] <= TARGET["errors"] and a["p95_s"] <= TARGET["p95_s"]
            and a["p50_s"] <= TARGET["p50_s"])


def ms(v: float | None) -> str:
    return "—" if v is None else f"{v * 1000:.0f}"


def print_level(n: int, variant: str, res: dict) -> None:
    fig = res["figures"]
    print(f"\n== {n} students · {variant} ==   (times in ms: p50 / p95 / p99, count)")
    for key in ("by_page", "by_action"):
        for name, s in fig[key].items():
            q = " / ".join(f"{ms(s[k]):>6}" for k in ("p50_s", "p95_s", "p99_s"))
            print(f"  {key[3:]:6} {name:14} {q}  n={s['n']}")
    for e in res["errors"][:8]:
        print(f"  error: {e['session']} · {e['page']} · {e['action']} · {e['kind']}: {e['detail'][:160]}")
    print("  bytes per view: " + ", ".join(f"{p} {b / 1024:.0f} KiB" for p, b in fig["bytes_per_view"].items()))


def cpu_per_rerun(row: dict) -> float:
    """The server process's CPU-seconds per script run it served (students' actions and auto-reruns): a figure
    that other load on the machine moves much less than the latencies."""
    f, m = row["figures"], row["machine"]
    runs = f["actions"]["n"] + f["auto"]["n"]
    return m["server_cores"] * m["wall_s"] / runs if runs else 0.0


def print_curve(rows: list[dict]) -> None:
    """One line per (N, variant): the students' actions' percentiles, errors, server CPU and memory, jobs."""
    print("\nCapacity curve (students' own interactions, rerun sent → script_finished; target at 40: p95 ≤ 1.0 s, "
          "p50 ≤ 0.2 s, 0 errors)")
    head = ("N", "variant", "actions", "p50 ms", "p95 ms", "p99 ms", "auto p95", "errors", "server CPU",
            "CPU ms/rerun", "jobs CPU", "bench CPU", "server PSS", "tree PSS", "KiB/view", "runs/min",
            "queue p50/max s", "holds")
    print(" | ".join(head))
    for r in rows:
        f, m, j = r["figures"], r["machine"], r.get("jobs", {})
        wait = j.get("queue_wait_s") or {}
        print(" | ".join(str(x) for x in (
            r["n"], r["variant"], f["actions"]["n"], ms(f["actions"]["p50_s"]), ms(f["actions"]["p95_s"]),
            ms(f["actions"]["p99_s"]), ms(f["auto"]["p95_s"]), f["errors"],
            f"{m['server_cores']:.2f} cores", f"{cpu_per_rerun(r) * 1000:.0f}", f"{m['jobs_cores']:.2f} cores",
            f"{m['bench_cores']:.2f} cores",
            f"{m['server_pss_mb']:.0f} MB", f"{m['tree_pss_mb']:.0f} MB",
            f"{(f['bytes_per_view_mean'] or 0) / 1024:.0f}", f"{j.get('runs_per_min', 0):.1f}",
            f"{(wait.get('p50_s') or 0):.1f}/{(wait.get('max_s') or 0):.1f}", "yes" if holds(f) else "no")))
    for variant in dict.fromkeys(r["variant"] for r in rows):
        ok = [r["n"] for r in rows if r["variant"] == variant and holds(r["figures"])]
        print(f"largest N that holds the target, {variant}: {max(ok) if ok else 'none'}")
