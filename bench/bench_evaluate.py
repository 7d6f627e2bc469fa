"""Replay throughput of the evaluation harness, readings per second on one core.

Replays a synthetic 5-minute river-level series (no shared data needed) through each registered
detector on its own, through the same code as ``riverwatch evaluate``, and times the bare
``score_one`` + ``learn_one`` cost of ``adaptive_anomaly`` per reading.

Run: ``.venv/bin/python bench/bench_evaluate.py [--readings N] [--detector NAME ...]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pydantic import BaseModel

from detectors.base import register, registry
from evaluation.datasets import Series
from riverwatch.catalog import Station
from riverwatch.model import Level
from evaluation.replay import replay


def synthetic(n: int, seed: int = 0) -> Series:
    """A river gauge series: daily cycle, noise, a flood wave, a spike; water level and discharge."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    level = 1.0 + 0.1 * np.sin(2 * np.pi * i / 288) + rng.normal(0, 0.01, n)
    level[n // 2: n // 2 + 300] += np.linspace(0, 3, 300)
    level[n // 3] += 1.0
    station = Station(id="bench", partner="bench", kind="river_gauge", name="bench", lat=0.0, lon=0.0,
                      quantities={"water_level": {"levels": {"advisory": 2.0, "watch": 2.5, "warning": 3.0,
                                                             "emergency": 3.8}, "max_rate_per_hour": 1.5},
                                  "discharge": {}})
    return Series("bench.csv", "bench", station, 1.6e9 + 300.0 * i,
                  {"water_level": level, "discharge": 20.0 * level ** 1.6})


def bench_replay(names: list[str], n: int) -> dict[str, float]:
    """Readings per second of a replay per detector."""
    series = synthetic(n)
    out = {}
    for name in names:
        start = time.perf_counter()
        replay(series, [name])
        out[name] = n / (time.perf_counter() - start)
    return out


class _Noop:
    """A detector that does nothing: what is left is the harness's own cost."""

    def score_one(self, x):
        return 0.0

    def learn_one(self, x):
        return None

    def level(self, score):
        return Level.NONE

    def evidence(self, x, score):
        return None


class _NoParams(BaseModel):
    pass


def bench_harness(n: int) -> float:
    """Readings per second of a replay through a no-op detector (registered in this process only)."""
    registry()
    register("_bench_noop", params=_NoParams, hazard="anomaly",
             applies=lambda station, params=None: ["water_level"])(lambda station, quantity, params: _Noop())
    return bench_replay(["_bench_noop"], n)["_bench_noop"]


def bench_adaptive(n: int) -> float:
    """Microseconds per reading of adaptive_anomaly's score_one + learn_one alone."""
    spec = registry()["adaptive_anomaly"]
    series = synthetic(n)
    det = spec.build(series.station, "water_level", {})
    xs = [{"t": t, "water_level": v} for t, v in zip(series.t.tolist(), series.columns["water_level"].tolist())]
    score_one, learn_one = det.score_one, det.learn_one
    start = time.perf_counter()
    for x in xs:
        score_one(x)
        learn_one(x)
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--detector", action="append", default=[])
    args = parser.parse_args()
    names = args.detector or sorted(n for n in registry() if not n.startswith("_"))
    print(f"adaptive_anomaly score_one+learn_one: {bench_adaptive(args.readings):.2f} µs/reading")
    print(f"replay harness alone (no-op detector): {bench_harness(args.readings):12,.0f} readings/s")
    for name, rate in bench_replay(names, args.readings).items():
        print(f"replay {name:22s} {rate:12,.0f} readings/s (one core)")


if __name__ == "__main__":
    main()
