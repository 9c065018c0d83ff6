"""The figures table of scripts/class_browsers.py: percentiles, the targets and PASS/MISS.

ratio: for a relative target the measured ratio (app ÷ hello-world, p95 ÷ 1-session median), for an absolute one
measured ÷ limit; it passes when it is ≤ the target's factor (≤ 1 for absolute targets).
"""

from __future__ import annotations

import statistics

PAGES = ("Home", "Train", "Live run", "Latent space", "Lessons")


def pct(xs: list[float], q: float) -> float:
    """The q-th percentile, linearly interpolated (numpy's default); nan for no data."""
    if not xs:
        return float("nan")
    xs, k = sorted(xs), (len(xs) - 1) * q / 100
    lo = int(k)
    return xs[lo] + (xs[min(lo + 1, len(xs) - 1)] - xs[lo]) * (k - lo)


def figures(results: dict) -> list[tuple[str, str, str, str, str, str]]:
    """Rows (phase, metric, value, target, ratio, PASS/MISS/''); also stores the summary in results['summary']."""
    rows, summ = [], results.setdefault("summary", {})

    def row(phase: str, metric: str, value: str, target: str = "", ratio: float | None = None,
            limit: float | None = None) -> None:
        ok = "" if limit is None else ("PASS" if ratio is not None and ratio <= limit else "MISS")
        rows.append((phase, metric, value, target, "" if ratio is None else f"{ratio:.2f}×", ok))

    cold = results.get("cold")
    if cold:
        n = len(cold["app_s"])
        row("cold start", f"hello-world: first page (median of {n})", f"{cold['hello_median_s']:.2f} s")
        row("cold start", f"this app: Home title (median of {n})", f"{cold['app_median_s']:.2f} s",
            "≤ 2× hello-world", cold["ratio"], 2)
    else:
        row("cold start", "skipped (--skip-cold)", "")
    one = results.get("single") or {}
    med1 = statistics.median(one["renders"].values()) if one.get("renders") else float("nan")
    summ["single_render_median_s"] = med1
    row("1 session", f"page render median ({len(one.get('renders', {}))} pages)", f"{med1:.2f} s")
    l1 = one.get("launch_to_first_point_s")
    summ["single_launch_to_first_point_s"] = l1
    row("1 session", f"Launch → first live point ({one.get('first_point_by')})",
        "none" if l1 is None else f"{l1:.2f} s", "≤ 1.5 s", None if l1 is None else l1 / 1.5, 1)
    many = (results.get("sessions") or {}).get("students", [])
    n = len(many)
    renders = [t for st in many for t in st["renders"].values()]
    p50, p95 = pct(renders, 50), pct(renders, 95)
    summ.update(render_p50_s=p50, render_p95_s=p95, render_max_s=max(renders, default=float("nan")))
    row(f"{n} sessions", f"page render p50 / p95 / max ({len(renders)} renders)",
        f"{p50:.2f} / {p95:.2f} / {summ['render_max_s']:.2f} s")
    by_page = {p: pct([st["renders"][p] for st in many if p in st["renders"]], 95)
               for p in PAGES}
    summ["render_p95_by_page_s"] = by_page
    row(f"{n} sessions", "page render p95 by page", " · ".join(f"{p} {v:.1f}" for p, v in by_page.items()))
    row(f"{n} sessions", "page render p95 ÷ 1-session median", f"{p95:.2f} s ÷ {med1:.2f} s", "≤ 4×",
        p95 / med1 if med1 == med1 and med1 > 0 else None, 4)
    launches = [st["launch_to_first_point_s"] for st in many if st["launch_to_first_point_s"] is not None]
    live = n - sum(st["launch_cached"] for st in many)  # a cached launch shows no live run: nothing to wait for
    lp95 = pct(launches, 95)
    summ.update(launch_p50_s=pct(launches, 50), launch_p95_s=lp95, launches_without_point=live - len(launches))
    row(f"{n} sessions", f"Launch → first live point p50 / p95 ({len(launches)}/{live} seen, {n - live} cached)",
        f"{summ['launch_p50_s']:.2f} / {lp95:.2f} s", "≤ 5 s", lp95 / 5 if launches and len(launches) == live else None,
        1)
    parts: dict[str, list[float]] = {}  # Launch → first live point, split where the job table shows the job
    steps = ("launch", "job submitted", "job first step", "first point")
    for st in many:
        tl = st["timeline"]
        if set(steps) <= tl.keys() and tl["job submitted"] >= tl["launch"]:  # this student's launch made the job
            for a, b in zip(steps, steps[1:], strict=False):
                parts.setdefault(f"{a} → {b}", []).append(tl[b] - tl[a])
    summ["launch_parts_s"] = parts
    for name, xs in parts.items():
        row(f"{n} sessions", f"… {name} (job table read every 0.1 s) p50 / p95 ({len(xs)} jobs)",
            f"{pct(xs, 50):.2f} / {pct(xs, 95):.2f} s")
    floor = results.get("floor")
    if floor:
        h1, hp95 = statistics.median(floor["single_s"]), pct(floor["sessions_s"], 95)
        home95 = by_page["Home"]
        summ.update(floor_single_median_s=h1, floor_p95_s=hp95, floor_ratio=hp95 / h1, home_over_floor=home95 / hp95)
        row(f"{n} sessions", "hello-world first render: 1-session median / p95 with all at once",
            f"{h1:.2f} / {hp95:.2f} s = {hp95 / h1:.1f}× (the browsers alone)")
        row(f"{n} sessions", "this app's Home p95 ÷ hello-world p95, same load", f"{home95:.2f} s ÷ {hp95:.2f} s", "",
            home95 / hp95)
    errors = [e for st in [one, *many] for e in st.get("errors", [])]
    summ["errors"] = errors
    n_err = len(errors) + results.get("server_tracebacks", 0)
    row("all", "errors (exceptions, st.error, JS, timeouts, server tracebacks)", str(n_err), "0", None, None)
    rows[-1] = (*rows[-1][:5], "PASS" if n_err == 0 else "MISS")
    for phase, key in (("1 session", "single"), (f"{n} sessions", "sessions")):
        mem = (results.get(key) or {}).get("memory")
        if mem:
            row(phase, "server peak RSS alone / PSS with workers (processes)",
                f"{mem['server_peak_mb']:.0f} / {mem['tree_peak_mb']:.0f} MB ({mem['tree_peak_processes']})")
            row(phase, "CPU: server+workers / Chromium+Playwright (wall)", f"{mem['cpu_s_server_and_workers']:.0f} / "
                f"{mem['cpu_s_browsers']:.0f} CPU-s ({mem['wall_s']:.0f} s)")
    return rows


def print_table(rows: list[tuple[str, ...]]) -> None:
    head = ("phase", "metric", "value", "target", "ratio", "")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(6)]
    for r in [head, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print("ratio: measured ÷ reference for relative targets (hello-world, 1-session median), ÷ limit for absolute ones")
