"""Where the worker's time goes.

``hot_path``      the pure per-message path (``Validator.validate`` + ``Pipeline.process``) run
                  in-process on pre-generated payloads: µs per message/reading without MQTT or
                  InfluxDB I/O, plus a pyinstrument profile of it.
``py_spy_profile`` samples a *running* worker with py-spy for a few seconds while load is offered,
                  only the thread holding the GIL (``--gil``: waits in select/queues/sockets do
                  not count, so the samples show where the one Python core goes); the folded
                  stacks are summarised into top functions by own and inclusive samples.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.workload import make_workload, payload, write_catalog

_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def _short(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in ("/site-packages/", "/lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{m.group('fn')} ({path})"


def summarise_folded(text: str, top: int = 15) -> dict:
    """Top functions by self and inclusive samples from py-spy's ``--format raw`` output.

    >>> s = summarise_folded("thr;a (x.py:1);b (y.py:2) 3\\nthr;a (x.py:1) 1\\n")
    >>> s["total_samples"], s["self"][0]["function"], s["inclusive"][0]["share"]
    (4, 'b (y.py)', 1.0)
    """
    own, incl, threads = Counter(), Counter(), Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        thread = frames[0] if frames and not _FRAME.match(frames[0]) else "all"
        threads[thread] += n
        names = [_short(f) for f in frames if _FRAME.match(f)]
        if names:
            own[names[-1]] += n
            for name in set(names):
                incl[name] += n

    def rows(counter: Counter) -> list[dict]:
        return [{"function": fn, "samples": n, "share": round(n / total, 3)} for fn, n in counter.most_common(top)]

    return {"total_samples": total, "self": rows(own), "inclusive": rows(incl),
            "threads": [{"thread": t, "share": round(n / max(1, total), 3)} for t, n in threads.most_common(8)]}


def py_spy_available() -> str | None:
    """Path of py-spy (in the venv or on PATH), or None."""
    import sys

    venv = Path(sys.executable).parent / "py-spy"
    return str(venv) if venv.exists() else shutil.which("py-spy")


def py_spy_profile(pid: int, duration_s: float, rate: int = 200) -> dict:
    """Sample ``pid`` for ``duration_s`` seconds; summary of where its threads spend CPU."""
    exe = py_spy_available()
    if exe is None:
        return {"skipped": "py-spy not installed"}
    with tempfile.TemporaryDirectory(prefix="rw-pyspy-") as tmp:
        out = Path(tmp) / "stacks.txt"
        proc = subprocess.run([exe, "record", "-p", str(pid), "-d", str(int(duration_s)), "-r", str(rate),
                               "--threads", "--gil", "--nonblocking", "-f", "raw", "-o", str(out)],
                              capture_output=True, text=True, timeout=duration_s + 60)
        if proc.returncode != 0 or not out.exists():
            return {"skipped": f"py-spy failed: {proc.stderr[-500:]}"}
        summary = summarise_folded(out.read_text())
    summary.update({"tool": "py-spy record --threads --gil --nonblocking (samples the GIL holder)", "rate_hz": rate, "duration_s": duration_s})
    return summary


def hot_path(n_messages: int = 40_000, n_stations: int = 2000, detectors: list[str] | None = None,
             profile: bool = True) -> dict:
    """Time (and profile) validate + pipeline on ``n_messages`` generated payloads, no I/O."""
    from ingest.pipeline import Pipeline
    from ingest.validate import Validator
    from riverwatch.catalog import load_catalog
    from riverwatch.settings import Settings

    from bench.targets import available_default_detectors

    wl = make_workload(n_stations, 0)
    detectors = detectors if detectors is not None else available_default_detectors()[0]
    settings = Settings(ingest={"detectors": detectors})
    with tempfile.TemporaryDirectory(prefix="rw-hot-") as tmp:
        catalog = load_catalog(write_catalog(wl, Path(tmp) / "catalog.toml"))
    t0 = time.time() - 3600
    n_st = len(wl.load)
    msgs = [(wl.load[i % n_st].topic, payload(wl.load[i % n_st], t0 + i * 1e-3, 1 + i // n_st))
            for i in range(n_messages)]
    readings = sum(len(wl.load[i % n_st].quantities) for i in range(n_messages))

    def fresh():
        return Validator(catalog, settings.ingest, settings.mqtt.max_payload_bytes), Pipeline(catalog, settings)

    def run(validator, pipeline, items) -> None:
        now = time.time()
        out: list[str] = []
        for topic, body in items:
            pipeline.process(validator.validate(topic, body, now), out)
            if len(out) > 5000:
                out = []

    validator, pipeline = fresh()
    run(validator, pipeline, msgs[:n_st])  # build every station's streams first
    t = time.perf_counter()
    run(validator, pipeline, msgs[n_st:])
    dt = time.perf_counter() - t
    n, r = n_messages - n_st, readings - sum(len(s.quantities) for s in wl.load)
    result = {"detectors": detectors, "messages": n, "readings": r,
              "us_per_message": round(dt / n * 1e6, 2), "us_per_reading": round(dt / r * 1e6, 2),
              "readings_per_s_one_core": round(r / dt, 0)}
    if profile:
        from pyinstrument import Profiler

        validator, pipeline = fresh()
        run(validator, pipeline, msgs[:n_st])
        profiler = Profiler(interval=0.0005)
        profiler.start()
        run(validator, pipeline, msgs[n_st:])
        profiler.stop()
        result["pyinstrument"] = profiler.output_text(unicode=False, color=False, show_all=False)
    return result
