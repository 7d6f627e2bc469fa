"""Results JSON -> the generated part of ``docs/performance.md`` and ``docs/img/perf_latency.png``.

Only the text between ``<!-- bench:begin -->`` and ``<!-- bench:end -->`` is rewritten; notes
written by hand around it stay.

Examples
--------
>>> fmt_rate(51234.4)
'51,234'
>>> fmt_pair({"p50": 0.12, "p99": 0.8})
'0.120 / 0.800'
"""

from __future__ import annotations

import json
from pathlib import Path

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def fmt_rate(x) -> str:
    """Thousands-separated integer, or an em dash."""
    return "—" if x is None else f"{x:,.0f}"


def fmt_pair(p: dict | None) -> str:
    """``p50 / p99`` in seconds."""
    if not p or p.get("p50") is None:
        return "—"
    return f"{p['p50']:.3f} / {p['p99']:.3f}"


def _pct(x, ceiling) -> str:
    return "—" if x is None or not ceiling else f"{100 * x / ceiling:.0f} %"


def _summary_rows(res: dict) -> list[str]:
    ceiling = (res.get("ceiling") or {}).get("c_client") or {}
    c_rps = ceiling.get("readings_per_s")
    rows = ["| System | sustained readings/s (msgs/s) | % of C ceiling | max throughput readings/s | "
            "CPU µs/reading | p50 / p99 publish→stored at ½ load (s) | p50 / p99 publish→warning (s) | "
            "worker RSS MiB |", "|---|---|---|---|---|---|---|---|"]
    if ceiling:
        rows.append(f"| Broker → C client (`mosquitto_sub`), ceiling | {fmt_rate(c_rps)} "
                    f"({fmt_rate(ceiling.get('msgs_per_s'))}) | 100 % | — | — | — | — | — |")
    multi = (res.get("ceiling") or {}).get("multi_topic") or {}
    if multi:
        rows.append(f"| Broker → `mosquitto_sub`, 2,000 station topics | {fmt_rate(multi.get('readings_per_s'))} "
                    f"({fmt_rate(multi.get('msgs_per_s'))}) | {_pct(multi.get('readings_per_s'), c_rps)} | — | — | — "
                    f"| — | — |")
    for t in res.get("targets", []):
        sus = t.get("sustained") or {}
        rate = sus.get("offered_readings_per_s")
        half = t.get("half_load") or {}
        best = max((s.get("throughput_readings_per_s") or 0 for s in t.get("steps", [])), default=None)
        cpu = sus.get("worker_cpu_us_per_reading") if sus else None
        rss = max((m.get("hwm_kib", 0) for s in t.get("steps", []) for m in s.get("worker_memory_kib", {}).values()),
                  default=0)
        warn = half.get("latency_warning_s") if half else None
        rows.append(f"| {t['name']} | {fmt_rate(rate)} ({fmt_rate(sus.get('offered_msgs_per_s'))}) | "
                    f"{_pct(rate, c_rps)} | {fmt_rate(best)} | {cpu if cpu is not None else '—'} | "
                    f"{fmt_pair(half.get('latency_stored_s')) if half else '—'} | {fmt_pair(warn)} | "
                    f"{rss / 1024:.0f} |" if rss else
                    f"| {t['name']} | {fmt_rate(rate)} ({fmt_rate(sus.get('offered_msgs_per_s'))}) | "
                    f"{_pct(rate, c_rps)} | {fmt_rate(best)} | {cpu if cpu is not None else '—'} | "
                    f"{fmt_pair(half.get('latency_stored_s')) if half else '—'} | {fmt_pair(warn)} | — |")
    return rows


def _step_rows(res: dict) -> list[str]:
    rows = ["| System | offered readings/s | sent | stored | lost | drain s | p50 / p99 stored (s) | "
            "p50 / p99 warning (s) | worker CPU µs/reading | machine busy | kept up |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for t in res.get("targets", []):
        for s in t.get("steps", []) + ([t["half_load"]] if t.get("half_load") else []) + (
                [t["overload"]] if t.get("overload") else []):
            rows.append(f"| {t['name']}{' ' + s['label'] if s.get('label') else ''} | "
                        f"{fmt_rate(s['offered_readings_per_s'])} | {fmt_rate(s['sent_readings'])} | "
                        f"{fmt_rate(s['stored_readings'])} | {fmt_rate(s['lost_readings'])} | {s['drain_s']} | "
                        f"{fmt_pair(s['latency_stored_s'])} | {fmt_pair(s.get('latency_warning_s'))} | "
                        f"{s['worker_cpu_us_per_reading']} | {s['machine_busy_fraction']:.0%} | "
                        f"{'yes' if s['kept_up'] else 'no'} |")
    return rows


def _profile_rows(prof: dict, key: str, top: int = 12) -> list[str]:
    rows = ["| share of samples | function |", "|---|---|"]
    for r in prof.get(key, [])[:top]:
        rows.append(f"| {r['share']:.1%} | `{r['function']}` |")
    return rows


def render(res: dict, plot_rel: str | None) -> str:
    """The generated Markdown block for ``res``."""
    m = res.get("machine", {})
    out = [BEGIN, "", f"Run `{res.get('name')}` at {res.get('started')} ({res.get('wall_s', 0):.0f} s, "
           f"`python -m bench.run {' '.join(res.get('argv', []))}`); raw numbers in "
           f"`bench/results/{res.get('name')}.json`.", "",
           "### Machine", "",
           f"- CPU: {m.get('cpu_model')} — {m.get('cores')} cores; memory {m.get('memory_gib')} GiB; "
           f"{m.get('os')}; load average at start {m.get('loadavg_start')}, at end {m.get('loadavg_end')}",
           f"- Python {m.get('python')}, mosquitto {m.get('mosquitto')}, InfluxDB {m.get('influxdb')}, "
           f"paho-mqtt {m.get('paho')}, node {m.get('node')}, Node-RED {m.get('node_red')}, "
           f"node-red-contrib-influxdb {m.get('node_red_influxdb')}",
           f"- Workload: {res.get('workload', {}).get('stations')} stations "
           f"({res.get('workload', {}).get('station_quantities')} station-quantities), "
           f"{res.get('workload', {}).get('readings_per_message')} readings per message (v1 JSON), QoS 1; "
           f"detectors {res.get('detectors')}" + (f" (missing from this checkout: {res.get('detectors_missing')})"
                                                  if res.get('detectors_missing') else ""), "",
           "### Summary", ""]
    out += _summary_rows(res)
    tg = res.get("targets_check") or {}
    if tg:
        out += ["", "Targets: " + "; ".join(f"{k}: **{'met' if v.get('met') else 'not met'}** ({v.get('detail')})"
                                            for k, v in tg.items())]
    out += ["", "### Every step", ""] + _step_rows(res)
    ov = [t for t in res.get("targets", []) if t.get("overload")]
    if ov:
        out += ["", "### Overload: lag, not loss", ""]
        for t in ov:
            o = t["overload"]
            out.append(f"- {t['name']}: offered {fmt_rate(o['offered_readings_per_s'])} readings/s "
                       f"for {o['window_s']:.0f} s; acknowledged by the broker {fmt_rate(o.get('acked_load_readings'))}, "
                       f"stored after the drain {fmt_rate(o['stored_readings'])} (lost {fmt_rate(o['lost_readings'])}); "
                       f"backlog drained {o['drain_s']} s after the load stopped.")
    mem = res.get("memory")
    if mem:
        out += ["", "### State per station-quantity", "",
                f"{mem['stations']:,} stations, {mem['station_quantities']:,} station-quantities, "
                f"{mem['readings_each']} readings each, detectors {mem['detectors']}, "
                f"{mem['open_warnings']} open warnings:", "",
                "| measure | bytes total | bytes per station-quantity |", "|---|---|---|",
                f"| checkpoint pickle (clocks + pipeline snapshot) | {mem['pickle_bytes']:,} | "
                f"{mem['pickle_bytes_per_station_quantity']} |",
                f"| live Python heap of that state (tracemalloc while unpickling) | {mem['tracemalloc_bytes']:,} | "
                f"{mem['tracemalloc_bytes_per_station_quantity']} |",
                f"| process RSS growth while building and feeding | {mem['rss_growth_bytes']:,} | "
                f"{mem['rss_growth_bytes_per_station_quantity']} |"]
    hot = res.get("hot_path")
    if hot:
        out += ["", "### Profile", "",
                f"Pure hot path (`Validator.validate` + `Pipeline.process`, no I/O, in-process): "
                f"**{hot['us_per_message']} µs per message, {hot['us_per_reading']} µs per reading** "
                f"(≈ {fmt_rate(hot['readings_per_s_one_core'])} readings/s on one core)."]
    spy = res.get("py_spy")
    if spy and not spy.get("skipped"):
        out += ["", f"Live worker under load (py-spy, {spy['duration_s']:.0f} s at {spy.get('offered')} readings/s, "
                    f"{spy['total_samples']:,} samples of running threads). Threads:",
                "", ", ".join(f"{t['thread']} {t['share']:.0%}" for t in spy.get("threads", [])), "",
                "Top functions by own time:", ""] + _profile_rows(spy, "self") + [
                "", "Top functions by inclusive time:", ""] + _profile_rows(spy, "inclusive")
    elif spy:
        out += ["", f"py-spy: {spy['skipped']}"]
    if hot and hot.get("pyinstrument"):
        lines = [ln for ln in hot["pyinstrument"].splitlines() if ln.strip()][:45]
        out += ["", "pyinstrument of the pure hot path (top of the tree):", "", "```", *lines, "```"]
    ev = res.get("evaluate")
    if ev:
        out += ["", "### Evaluation replay speed (`bench/bench_evaluate.py`)", "", "```",
                *(ev.get("output", "") or json.dumps(ev))[-2500:].splitlines(), "```"]
    nr = res.get("node_red_install") or {}
    if nr.get("skipped"):
        out += ["", f"Node-RED peer skipped: {nr['skipped']}"]
    if plot_rel:
        out += ["", f"![latency against offered load]({plot_rel})"]
    out += ["", END]
    return "\n".join(out)


def plot_latency(res: dict, path: Path) -> bool:
    """p50/p99 publish->stored latency against offered load, one line pair per target."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(10.5, 4.8))
    for t in res.get("targets", []):
        steps = sorted([s for s in t.get("steps", []) + ([t["half_load"]] if t.get("half_load") else [])
                        if s["latency_stored_s"]["p50"] is not None], key=lambda s: s["offered_readings_per_s"])
        if not steps:
            continue
        x = [s["offered_readings_per_s"] for s in steps]
        line, = ax.plot(x, [s["latency_stored_s"]["p99"] for s in steps], marker="o", label=f"{t['name']} p99")
        ax.plot(x, [s["latency_stored_s"]["p50"] for s in steps], marker=".", linestyle="--",
                color=line.get_color(), label=f"{t['name']} p50")
    ceiling = ((res.get("ceiling") or {}).get("c_client") or {}).get("readings_per_s")
    if ceiling:
        ax.axvline(ceiling, color="grey", linestyle=":", label="broker → C client ceiling")
    ax.axhline(1.0, color="red", linewidth=0.8, linestyle=":", label="target p99 < 1 s")
    ax.set_yscale("log")
    ax.set_xlabel("offered load, readings/s")
    ax.set_ylabel("publish → stored latency, s")
    ax.set_title("riverwatch and Node-RED: latency against offered load")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_report(res: dict, doc: Path, img: Path) -> None:
    """Rewrite the generated block of ``doc`` (create the file if needed) and the plot."""
    plot_rel = None
    if plot_latency(res, img):
        plot_rel = str(Path("img") / img.name)
    block = render(res, plot_rel)
    if doc.exists() and BEGIN in doc.read_text():
        text = doc.read_text()
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1] if END in rest else ""
        doc.write_text(head + block + tail)
    else:
        doc.parent.mkdir(parents=True, exist_ok=True)
        doc.write_text("# Performance\n\nMeasured with `make bench` (`python -m bench.run`; `--quick` for a "
                       "two-minute version). See `bench/__init__.py` for the parts and `bench/measure.py` for "
                       "how latency is measured.\n\n" + block + "\n")


if __name__ == "__main__":  # pragma: no cover - manual use
    import sys

    result = json.loads(Path(sys.argv[1]).read_text())
    root = Path(__file__).resolve().parent.parent
    write_report(result, root / "docs" / "performance.md", root / "docs" / "img" / "perf_latency.png")
