"""Memory per station-quantity: detector, QC, replay-clock and warning state after N readings.

A Validator and a Pipeline with the default detectors (those registered) take ``readings_each``
messages from each of ``n_stations`` stations (a few of them above a threshold, so the warning
book holds open warnings too). Reported, each divided by the number of (station, quantity) streams:
the pickle size of what the service checkpoints (replay clocks + ``Pipeline.snapshot()``), the
Python heap that state occupies (tracemalloc around unpickling it: the live object graph of the
detectors, QC streams, clocks and warning book), and the process RSS growth while building and
feeding the validator and pipeline (includes per-station line prefixes and allocator slack).
"""

from __future__ import annotations

import gc
import pickle
import tempfile
import time
import tracemalloc
from pathlib import Path

from bench.workload import alarm_payload, make_workload, payload, write_catalog


def measure_state(n_stations: int = 10_000, readings_each: int = 30, alarm_every: int = 100,
                  detectors: list[str] | None = None) -> dict:
    """Pickle size and tracemalloc growth of the per-stream state (see the module docstring)."""
    from ingest.pipeline import Pipeline
    from ingest.validate import Validator
    from riverwatch.catalog import load_catalog
    from riverwatch.settings import Settings

    from bench.targets import available_default_detectors

    wl = make_workload(n_stations, 0)
    detectors = detectors if detectors is not None else available_default_detectors()[0]
    settings = Settings(ingest={"detectors": detectors})
    with tempfile.TemporaryDirectory(prefix="rw-mem-") as tmp:
        catalog = load_catalog(write_catalog(wl, Path(tmp) / "catalog.toml"))
    streams = sum(len(s.quantities) for s in wl.load)
    t0 = time.time() - readings_each * 600.0 - 3600
    gc.collect()
    rss0 = _rss_bytes()
    validator = Validator(catalog, settings.ingest, settings.mqtt.max_payload_bytes)
    pipeline = Pipeline(catalog, settings)
    out: list[str] = []
    events = 0
    started = time.perf_counter()
    for k in range(readings_each):
        now = time.time()
        for i, st in enumerate(wl.load):
            body = (alarm_payload if i % alarm_every == 0 and k >= readings_each // 2 else payload)(
                st, t0 + k * 600.0 + i * 1e-3, k + 1)
            events += len(pipeline.process(validator.validate(st.topic, body, now), out))
            out.clear()
    feed_s = time.perf_counter() - started
    gc.collect()
    rss = _rss_bytes() - rss0
    state = {"clocks": {k: (c.seq, c.time_s) for k, c in validator.clocks.items()},
             "pipeline": pipeline.snapshot()}
    blob = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    size = len(blob)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    restored = pickle.loads(blob)
    traced = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del restored
    return {"stations": n_stations, "station_quantities": streams, "readings_each": readings_each,
            "detectors": detectors, "warning_events": events, "open_warnings": len(pipeline.open_warnings()),
            "pickle_bytes": size, "pickle_bytes_per_station_quantity": round(size / streams, 1),
            "tracemalloc_bytes": traced, "tracemalloc_bytes_per_station_quantity": round(traced / streams, 1),
            "rss_growth_bytes": rss, "rss_growth_bytes_per_station_quantity": round(rss / streams, 1),
            "feed_s": round(feed_s, 2)}


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0
