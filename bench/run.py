"""``python -m bench.run [--quick] [--name NAME] [--skip PART ...]``: the whole benchmark, one command.

Everything runs on this machine, in this run, against one Mosquitto and one InfluxDB started by
``application.services`` in a temporary state dir, so the ratios compare like with like:

1. ceiling      broker -> C client (``mosquitto_pub``/``mosquitto_sub``), same payloads
2. riverwatch   one worker: rising offered load until it no longer keeps up; a py-spy profile at
                the sustained rate; latency (stored, warning) at half the sustained rate; overload
                (2x sustained) then drain: stored must equal acknowledged
3. workers      two workers on a shared subscription (``mqtt.shared_group``)
3b. sharing     one worker without partner views, with views of own data only, then with views and two
                partners sharing everything aggregated (``ingest/share_sink.py``): the fan-out may
                cost at most 20 % of the sustained rate
4. nodered      Node-RED (installed into ``bench/.node-red/`` with npm), plain and batch flows
5. memory       state per station-quantity (10,000 stations)
6. profile      the pure hot path, timed and profiled with pyinstrument
7. evaluate     ``bench/bench_evaluate.py`` when it exists

Results go to ``bench/results/<name>.json`` and the generated block of ``docs/performance.md``
(plus ``docs/img/perf_latency.png``; ``--quick`` leaves the docs alone unless ``--report``). A full
run takes about 7-10 minutes on the 2-core machine; ``--quick`` about three.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.ceiling import c_client_ceiling, multi_topic_ceiling
from bench.measure import WarningListener
from bench.profiling import hot_path, py_spy_profile
from bench.report import write_report
from bench.state_memory import measure_state
from bench.steps import StepCounter, ladder, run_step, sustained
from bench.targets import REPO, NodeRedTarget, RiverwatchTarget, available_default_detectors, install_node_red
from bench.workload import make_workload, write_catalog

PARTS = ("ceiling", "riverwatch", "workers", "sharing", "nodered", "memory", "profile", "evaluate")

FULL = dict(ceiling_n=150_000, window_s=15.0, rates=[5_000, 10_000, 15_000, 20_000, 30_000, 40_000, 60_000, 80_000],
            nodered_plain=[5_000, 10_000, 15_000, 20_000], nodered_batch=[10_000, 20_000, 30_000, 40_000, 60_000],
            triggers=5, half_triggers=20, overload_window_s=15.0, drain_timeout_s=30.0, overload_drain_s=150.0,
            memory_stations=10_000, memory_readings=20, hot_messages=40_000, spy_s=10, eval_timeout_s=240)
QUICK = dict(ceiling_n=30_000, window_s=6.0, rates=[5_000, 20_000], nodered_plain=[5_000], nodered_batch=[10_000],
             triggers=3, half_triggers=5, overload_window_s=6.0, drain_timeout_s=15.0, overload_drain_s=60.0,
             memory_stations=2_000, memory_readings=10, hot_messages=10_000, spy_s=4, eval_timeout_s=60)


def log(msg: str) -> None:
    """Progress line on stdout."""
    print(msg, flush=True)


def _version(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else None


def machine() -> dict:
    """Cores, CPU model, memory, OS and versions."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")), "?")
    mem_kib = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                   if ln.startswith("MemTotal:"))
    try:
        import paho.mqtt

        paho_v = paho.mqtt.__version__
    except Exception:
        paho_v = None
    os_name = next((ln.split("=", 1)[1].strip('"') for ln in Path("/etc/os-release").read_text().splitlines()
                    if ln.startswith("PRETTY_NAME=")), platform.platform())
    return {"cpu_model": model, "cores": os.cpu_count(), "memory_gib": round(mem_kib / 2**20, 1), "os": os_name,
            "kernel": platform.release(), "python": platform.python_version(), "paho": paho_v,
            "mosquitto": _version(["/usr/sbin/mosquitto", "-h"]),
            "influxdb": _version(["influxd", "version"]), "node": _version(["node", "--version"]),
            "loadavg_start": Path("/proc/loadavg").read_text().split()[:3]}


def _service_pids(state: Path) -> dict[str, int]:
    try:
        info = json.loads((state / "services.json").read_text())
        return {"mosquitto": info["mosquitto"]["pid"], "influxd": info["influxdb"]["pid"]}
    except (OSError, ValueError, KeyError):
        return {}


def _evaluate(timeout: float, quick: bool) -> dict | None:
    script = REPO / "bench" / "bench_evaluate.py"
    if not script.exists():
        return None
    argv = [sys.executable, "-m", "bench.bench_evaluate"]
    if "--readings" in script.read_text():
        argv += ["--readings", "20000" if quick else "100000"]
    log(f"bench: evaluation replay speed: {' '.join(argv[1:])}")
    try:
        proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                              start_new_session=True)
    except subprocess.TimeoutExpired:
        return {"skipped": f"timed out after {timeout:.0f} s"}
    return {"returncode": proc.returncode, "output": (proc.stdout + proc.stderr)[-4000:]}


def _check_targets(res: dict) -> dict:
    checks = {}
    ceiling = ((res.get("ceiling") or {}).get("c_client") or {}).get("readings_per_s")
    rw = next((t for t in res.get("targets", []) if t["kind"] == "riverwatch"), None)
    best_rw = max((t.get("sustained") or {}).get("offered_readings_per_s") or 0
                  for t in res.get("targets", []) if t["kind"] == "riverwatch") if rw else None
    if rw:
        checks["≥ 50,000 readings/s sustained"] = {"met": (best_rw or 0) >= 50_000, "detail": f"{best_rw:,.0f}"}
        if ceiling:
            checks["≥ 30 % of the C ceiling"] = {"met": (best_rw or 0) >= 0.3 * ceiling,
                                                "detail": f"{100 * (best_rw or 0) / ceiling:.0f} %"}
        half = rw.get("half_load") or {}
        p99 = (half.get("latency_stored_s") or {}).get("p99")
        checks["p99 publish→stored < 1 s at ½ load"] = {"met": p99 is not None and p99 < 1.0, "detail": f"{p99} s"}
        w99 = (half.get("latency_warning_s") or {}).get("p99")
        checks["p99 publish→warning < 100 ms at ½ load"] = {"met": w99 is not None and w99 < 0.1,
                                                           "detail": f"{w99} s"}
        ov = rw.get("overload")
        if ov:
            checks["overload → lag, not loss"] = {"met": ov["lost_readings"] == 0 and ov["stored_count_stable"],
                                                  "detail": f"lost {ov['lost_readings']}"}
        nr = [t for t in res.get("targets", []) if t["kind"] == "node-red"]
        if nr:
            best_nr = max((t.get("sustained") or {}).get("offered_readings_per_s") or 0 for t in nr)
            checks["≥ Node-RED's best variant"] = {"met": (best_rw or 0) >= best_nr,
                                                  "detail": f"{best_rw:,.0f} vs {best_nr:,.0f}"}
    share = res.get("sharing") or {}
    if share.get("fall_fan_out") is not None:
        checks["fan-out to two partners (aggregated) costs ≤ 20 % of the sustained rate"] = {
            "met": share["fall_fan_out"] <= 0.2, "detail": f"{100 * share['fall_fan_out']:.0f} % (views and "
            f"fan-out against no views: {100 * share['fall']:.0f} %)"}
    mem = res.get("memory")
    if mem:
        per = mem["tracemalloc_bytes_per_station_quantity"]
        checks["state ≤ 2 KB per station-quantity"] = {"met": per <= 2048, "detail": f"{per:.0f} B heap, "
                                                       f"{mem['pickle_bytes_per_station_quantity']:.0f} B pickled"}
    return checks


def _riverwatch(res, urls, tmp, catalog, wl, counter, cfg, aux, warnings, n_workers, skip_extra=False,
                start_rates=None, views=True, variant="") -> dict:
    target = RiverwatchTarget(urls, catalog, tmp, n_workers, views=views, variant=variant)
    entry = {"name": target.name, "kind": "riverwatch", **target.describe()}
    common = dict(n_stations=len(wl.load), n_alarm=len(wl.alarms), rpm=wl.readings_per_message,
                  warnings=warnings, drain_timeout_s=cfg["drain_timeout_s"], aux_pids=aux)
    log(f"bench: starting {target.name} (detectors {target.detectors})")
    try:
        target.start()
        rates = start_rates or cfg["rates"]
        entry["steps"] = ladder(target, urls, counter, rates, window_s=cfg["window_s"], log=log,
                                n_triggers=cfg["triggers"], **common)
        best = sustained(entry["steps"])
        entry["sustained"] = best
        if best is not None and not skip_extra:
            rate = best["offered_readings_per_s"]
            if "profile" not in res["skip"]:
                log(f"bench:   py-spy profile of the worker at {rate:,.0f} readings/s ...")
                box: dict = {}
                pid = target.pids()[0]
                spy = threading.Thread(target=lambda: (time.sleep(2.5), box.update(py_spy_profile(pid, cfg["spy_s"]))))
                spy.start()
                prof_step = run_step(target, urls, counter, rate_readings=rate, window_s=cfg["spy_s"] + 2.0,
                                     label="(profiled)", **common)
                spy.join(cfg["spy_s"] + 90)
                res["py_spy"] = {**box, "offered": f"{rate:,.0f}"}
                entry["profiled_step"] = prof_step
            log(f"bench:   half load {rate / 2:,.0f} readings/s with {cfg['half_triggers']} warning triggers ...")
            entry["half_load"] = run_step(target, urls, counter, rate_readings=rate / 2, window_s=cfg["window_s"],
                                          n_triggers=cfg["half_triggers"], label="(½ sustained)", **common)
            over = 2 * rate
            log(f"bench:   overload {over:,.0f} readings/s for {cfg['overload_window_s']:.0f} s, then drain ...")
            ov = run_step(target, urls, counter, rate_readings=over, window_s=cfg["overload_window_s"],
                          label="(overload 2×)", **{**common, "drain_timeout_s": cfg["overload_drain_s"]})
            complete = ov["packets_sent"] == ov["packets_planned"] == ov["acked_packets"]
            ov["acked_load_readings"] = ov["sent_readings"] if complete else None
            entry["overload"] = ov
            log(f"bench:     overload: acked {ov['acked_load_readings']}, stored {ov['stored_readings']}, "
                f"drain {ov['drain_s']} s")
    except Exception as exc:  # report what we have
        entry["error"] = f"{type(exc).__name__}: {exc}"
        log(f"bench: {target.name} failed: {entry['error']}\n{target.log_tail()}")
    finally:
        target.stop()
    return entry


def _sharing(res, urls, tmp, wl, counter, cfg, aux, warnings) -> dict:
    """The sharing sink's cost: one worker without partner views, then with views and two partners
    sharing everything aggregated (``bench.workload.sharing_toml``), on the same finer ladder."""
    one = next(((t.get("sustained") or {}).get("offered_readings_per_s") for t in res["targets"]
                if t["kind"] == "riverwatch" and t["workers"] == 1), None)
    start = one or cfg["rates"][0]  # steps of 10 % up to 6x, until a step is not kept up
    rates = [round(0.8 * start * 1.1 ** k, -2) for k in range(20)]
    plain, shared = write_catalog(wl, tmp / "catalog-plain.toml"), write_catalog(wl, tmp / "catalog-shared.toml", True)
    out = {}
    variants = (("without_views", plain, False), ("views_own_data_only", plain, True),
                ("views_two_partners_aggregated", shared, True))
    for key, catalog, views in variants:
        entry = _riverwatch(res, urls, tmp, catalog, wl, counter, cfg, aux, warnings, 1, skip_extra=True,
                            start_rates=rates, views=views, variant=key.replace("_", "-"))
        out[key] = {"sustained": entry.get("sustained"), "steps": entry.get("steps"), "error": entry.get("error")}
    rate = {key: (out[key]["sustained"] or {}).get("offered_readings_per_s") for key, _, _ in variants}
    base, own, fan = rate["without_views"], rate["views_own_data_only"], rate["views_two_partners_aggregated"]
    out["fall"] = round(1 - fan / base, 3) if base and fan else None  # views and agreements, against none
    out["fall_fan_out"] = round(1 - fan / own, 3) if own and fan else None  # the agreements' fan-out alone
    # the worker's CPU per reading over the steps every variant kept up with
    steps = [out[key]["steps"] or [] for key, _, _ in variants]
    common = [group for group in zip(*steps) if all(s.get("kept_up") and s.get("worker_cpu_us_per_reading")
                                                      for s in group)]
    out["worker_cpu_us_per_reading"] = ({key: round(sum(g[i]["worker_cpu_us_per_reading"] for g in common)
                                                    / len(common), 1) for i, (key, _, _) in enumerate(variants)}
                                        if common else None)
    log(f"bench: sharing: sustained {rate} readings/s; fall {out['fall']} (views and fan-out), "
        f"{out['fall_fan_out']} (fan-out alone); worker CPU per reading {out['worker_cpu_us_per_reading']}")
    return out


def _node_red(res, urls, tmp, wl, counter, cfg, aux) -> list[dict]:
    install = install_node_red()
    res["node_red_install"] = install
    res["machine"]["node_red"] = (install.get("versions") or {}).get("node-red")
    res["machine"]["node_red_influxdb"] = (install.get("versions") or {}).get("node-red-contrib-influxdb")
    if install.get("skipped"):
        log(f"bench: Node-RED skipped: {install['skipped']}")
        return []
    out = []
    for variant, rates in (("plain", cfg["nodered_plain"]), ("batch", cfg["nodered_batch"])):
        target = NodeRedTarget(urls, tmp, variant)
        entry = {"name": target.name, **target.describe()}
        log(f"bench: starting {target.name}")
        try:
            target.start()
            entry["steps"] = ladder(target, urls, counter, rates, window_s=cfg["window_s"], log=log,
                                    n_stations=len(wl.load), n_alarm=len(wl.alarms), rpm=wl.readings_per_message,
                                    drain_timeout_s=cfg["drain_timeout_s"], aux_pids=aux)
            entry["sustained"] = sustained(entry["steps"])
        except Exception as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
            log(f"bench: {target.name} failed: {entry['error']}\n{target.log_tail()}")
        finally:
            target.stop()
        out.append(entry)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a two-minute version (small windows, few steps)")
    parser.add_argument("--name", default=None, help="results name (default: full or quick)")
    parser.add_argument("--skip", nargs="*", default=[], choices=PARTS, help="parts to leave out")
    parser.add_argument("--stations", type=int, default=2000, help="load stations in the catalog")
    parser.add_argument("--rates", type=lambda text: [float(r) for r in text.split(",")], default=None,
                        help="offered loads of the riverwatch ladder, readings/s, comma-separated")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite docs/performance.md")
    parser.add_argument("--report", action="store_true",
                        help="with --quick: rewrite docs/performance.md too (by default only a full run does)")
    args = parser.parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL)
    if args.rates:
        cfg["rates"] = args.rates
    name = args.name or ("quick" if args.quick else "full")
    from application.services import services_down, services_up

    started = time.monotonic()
    res: dict = {"name": name, "argv": argv if argv is not None else sys.argv[1:],
                 "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "config": cfg,
                 "skip": args.skip, "machine": machine(), "targets": []}
    detectors, missing = available_default_detectors()
    res["detectors"], res["detectors_missing"] = detectors, missing
    wl = make_workload(args.stations, 300)
    res["workload"] = {"stations": len(wl.load), "station_quantities": sum(len(s.quantities) for s in wl.load),
                       "readings_per_message": wl.readings_per_message, "payload": "riverwatch.contract.encode_json"}
    with tempfile.TemporaryDirectory(prefix="riverwatch-bench-") as tmp_name:
        tmp = Path(tmp_name)
        state = tmp / "services"
        log(f"bench: starting Mosquitto and InfluxDB in {state}")
        urls = services_up(state)
        warnings = None
        try:
            aux = _service_pids(state)
            catalog = write_catalog(wl, tmp / "catalog.toml")
            counter = StepCounter(len(wl.alarms))
            if "ceiling" not in args.skip:
                log(f"bench: ceiling: {cfg['ceiling_n']:,} messages mosquitto_pub -> mosquitto_sub ...")
                res["ceiling"] = {"c_client": c_client_ceiling(urls.mqtt_host, urls.mqtt_port, cfg["ceiling_n"],
                                                               len(wl.load)),
                                  "multi_topic": multi_topic_ceiling(urls.mqtt_host, urls.mqtt_port,
                                                                     cfg["ceiling_n"], len(wl.load))}
                log(f"bench:   C client {res['ceiling']['c_client'].get('readings_per_s')} readings/s, "
                    f"2,000 topics {res['ceiling']['multi_topic'].get('readings_per_s')} readings/s")
            warnings = WarningListener(urls.mqtt_host, urls.mqtt_port)
            warnings.wait_ready()
            if "riverwatch" not in args.skip:
                res["targets"].append(_riverwatch(res, urls, tmp, catalog, wl, counter, cfg, aux, warnings, 1))
            if "workers" not in args.skip:
                one = (res["targets"][0].get("sustained") or {}).get("offered_readings_per_s") if res["targets"] else None
                rates = [r for r in cfg["rates"] if one is None or r >= one] or cfg["rates"]
                res["targets"].append(_riverwatch(res, urls, tmp, catalog, wl, counter, cfg, aux, warnings, 2,
                                                  skip_extra=True, start_rates=rates))
            if "sharing" not in args.skip:
                res["sharing"] = _sharing(res, urls, tmp, wl, counter, cfg, aux, warnings)
            if "nodered" not in args.skip:
                res["targets"] += _node_red(res, urls, tmp, wl, counter, cfg, aux)
        finally:
            if warnings is not None:
                warnings.close()
            services_down(state)
    if "memory" not in args.skip:
        log(f"bench: state memory for {cfg['memory_stations']:,} stations ...")
        res["memory"] = measure_state(cfg["memory_stations"], cfg["memory_readings"])
    if "profile" not in args.skip:
        log("bench: hot path timing and pyinstrument profile ...")
        res["hot_path"] = hot_path(cfg["hot_messages"])
    if "evaluate" not in args.skip:
        res["evaluate"] = _evaluate(cfg["eval_timeout_s"], args.quick)
    res["machine"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    res["wall_s"] = time.monotonic() - started
    res["targets_check"] = _check_targets(res)
    out = REPO / "bench" / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1, default=str) + "\n")
    log(f"bench: results in {out.relative_to(REPO)} ({res['wall_s']:.0f} s)")
    if not args.no_report and (not args.quick or args.report):
        write_report(res, REPO / "docs" / "performance.md", REPO / "docs" / "img" / "perf_latency.png")
        log("bench: docs/performance.md and docs/img/perf_latency.png written")
    for check, verdict in res["targets_check"].items():
        log(f"bench:   {check}: {'met' if verdict['met'] else 'NOT met'} ({verdict['detail']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
