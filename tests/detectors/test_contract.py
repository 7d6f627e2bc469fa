"""Contract checks over every registered detector (river's estimator checks, our way).

Each check runs for every detector in ``registry()`` on its streams of the demo catalog (or a
station measuring every quantity when the demo has none for it). A detector opts out of a check by
naming it in ``register(..., skip_checks=(...))``: the skip is reported, never silent.
"""

from __future__ import annotations

import copy
import doctest
import importlib
import math
import pickle
import random
from pathlib import Path

import pytest

from detectors import Finding, registry
from riverwatch.catalog import Station, load_catalog
from riverwatch.model import Level
from riverwatch.state import VERSION, Slotted
from riverwatch.units import QUANTITIES

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "catalog" / "demo.toml")
EVERYTHING = Station(id="all", partner="test", kind="water_quality", name="All", lat=0, lon=0,
                     quantities={q: {} for q in QUANTITIES})
STATE_BUDGET = 2048
T0 = 1_800_000_000.0
SPECS = registry()


def streams(spec, limit: int = 3):
    """Up to ``limit`` (station, quantity) streams the detector watches."""
    found = [(st, q) for st in CATALOG.stations for q in spec.applies(st)]
    if not found:
        found = [(EVERYTHING, q) for q in spec.applies(EVERYTHING)]
    seen, out = set(), []
    for st, q in found:              # prefer distinct quantities
        if q not in seen:
            seen.add(q)
            out.append((st, q))
    return out[:limit] or [(EVERYTHING, None)]


def readings(station: Station, n: int, seed: int, step_s: float = 600.0):
    """A seeded random walk for every quantity of the station, inside its plausible range."""
    rng = random.Random(seed)
    state = {q: 0.5 for q in station.quantities}
    for i in range(n):
        x = {"t": T0 + i * step_s}
        for q, spec in station.quantities.items():
            lo, hi = spec.plausible
            lo, hi = max(lo, -1e3), min(hi, 1e3)
            state[q] = min(1.0, max(0.0, state[q] + rng.gauss(0, 0.02)))
            x[q] = lo + (hi - lo) * (0.2 + 0.3 * state[q])
        yield x


def edge_inputs(station: Station):
    qs = list(station.quantities)
    yield {"t": T0}
    for value in (0.0, 1.0, -1.0, 1e300, -1e300, 1e-300, 7.0):
        for _ in range(3):
            yield {"t": T0, **{q: value for q in qs}}
    for q in qs:
        lo, hi = station.quantities[q].plausible
        yield {"t": T0 + 1, q: lo}
        yield {"t": T0 + 2, q: hi}


CASES = [pytest.param(name, st, q, id=f"{name}-{q or 'station'}")
         for name, spec in sorted(SPECS.items()) for st, q in streams(spec)]


def build(name, station, quantity):
    return SPECS[name].build(station, quantity)


def skip_unless(name, check):
    if check in SPECS[name].skip_checks:
        pytest.skip(f"{name} opts out of {check!r}")


def run(det, xs):
    scores = []
    for x in xs:
        s = det.score_one(x)
        det.learn_one(x)
        scores.append(s)
    return scores


def trained(name, station, quantity):
    """The detector after 200 seeded readings, and the 200 readings that follow."""
    xs = list(readings(station, 400, seed=5))
    det = build(name, station, quantity)
    run(det, xs[:200])
    return det, xs[200:]


def saved_state(det) -> dict:
    """``det``'s state as a checkpoint gives it back."""
    return pickle.loads(pickle.dumps(det.__getstate__()))


@pytest.mark.parametrize("name, station, quantity", CASES)
def test_scores_finite_on_random_and_edge_inputs(name, station, quantity):
    skip_unless(name, "finite")
    det = build(name, station, quantity)
    xs = list(readings(station, 300, seed=1)) + list(edge_inputs(station))
    xs += [{**x, "t": T0 + 400 * 600.0 + i * 600.0} for i, x in enumerate(edge_inputs(station))]
    for x in xs:
        s = det.score_one(x)
        assert isinstance(s, float) and math.isfinite(s), (x, s)
        assert isinstance(det.level(s), Level)
        det.learn_one(x)
        if det.level(s):
            f = det.evidence(x, s)
            assert isinstance(f, Finding) and math.isfinite(f.score) and f.level == det.level(s)


@pytest.mark.parametrize("name, station, quantity", CASES)
def test_constant_input_stays_quiet_and_finite(name, station, quantity):
    skip_unless(name, "finite")
    det = build(name, station, quantity)
    x0 = next(readings(station, 1, seed=3))
    scores = run(det, ({**x0, "t": T0 + i * 600.0} for i in range(300)))
    assert all(math.isfinite(s) for s in scores)


@pytest.mark.parametrize("name, station, quantity", CASES)
def test_missing_quantity_scores_zero(name, station, quantity):
    skip_unless(name, "missing_quantity")
    det = build(name, station, quantity)
    run(det, readings(station, 50, seed=2))
    assert det.score_one({"t": T0 + 1e6}) == 0.0
    if quantity is not None:
        other = {q: v for q, v in next(readings(station, 1, seed=2)).items() if q != quantity}
        assert det.score_one({**other, "t": T0 + 1e6}) == 0.0


@pytest.mark.parametrize("name, station, quantity", CASES)
def test_input_is_not_changed(name, station, quantity):
    skip_unless(name, "unchanged_input")
    det = build(name, station, quantity)
    for x in readings(station, 100, seed=4):
        before = copy.deepcopy(x)
        s = det.score_one(x)
        det.learn_one(x)
        det.evidence(x, s)
        assert x == before


@pytest.mark.parametrize("name, station, quantity", CASES)
def test_pickles_to_the_same_future_scores(name, station, quantity):
    skip_unless(name, "pickle")
    det, later = trained(name, station, quantity)
    clone = pickle.loads(pickle.dumps(det))
    assert run(clone, later) == run(det, later)


def states(obj):
    """Every object of ours in ``obj``'s pickled state, ``obj`` first (walking tuples, lists, dicts)."""
    found, todo = [], [obj]
    while todo:
        o = todo.pop()
        if isinstance(o, (tuple, list)):
            todo.extend(o)
        elif isinstance(o, dict):
            todo.extend(o.values())
        elif type(o).__module__.split(".")[0] in ("detectors", "riverwatch"):
            found.append(o)
            if isinstance(o, Slotted):
                todo.extend(o.__getstate__().values())
    return found


@pytest.mark.parametrize("name, station, quantity", CASES)
def test_state_pickles_through_the_one_versioned_mechanism(name, station, quantity):
    skip_unless(name, "pickle")
    det, _ = trained(name, station, quantity)
    for o in states(det):
        assert isinstance(o, Slotted), f"{type(o).__qualname__} pickles its own way"
        assert o.__getstate__()[VERSION] == type(o).state_version


@pytest.mark.parametrize("name, station, quantity", CASES)
def test_state_missing_a_field_added_later_restores_with_its_default(name, station, quantity):
    skip_unless(name, "pickle")
    det, later = trained(name, station, quantity)
    cls = type(det)
    newer = type(cls.__name__, (cls,), {"__slots__": ("added_later",),
                                        "slot_defaults": {**cls.slot_defaults, "added_later": "default"}})
    restored = newer.__new__(newer)
    restored.__setstate__(saved_state(det))                # written before the field existed
    assert restored.added_later == "default"
    assert run(restored, later) == run(det, later)


@pytest.mark.parametrize("name, station, quantity", CASES)
def test_state_with_a_field_removed_since_restores(name, station, quantity):
    skip_unless(name, "pickle")
    det, later = trained(name, station, quantity)
    restored = type(det).__new__(type(det))
    restored.__setstate__({**saved_state(det), "removed_since": 1.0})
    assert run(restored, later) == run(det, later)


@pytest.mark.parametrize("name, station, quantity", CASES)
def test_same_output_for_same_seed(name, station, quantity):
    skip_unless(name, "deterministic")
    xs = list(readings(station, 300, seed=6))
    assert run(build(name, station, quantity), xs) == run(build(name, station, quantity), xs)


@pytest.mark.parametrize("name, station, quantity", CASES)
def test_state_size_within_budget(name, station, quantity):
    skip_unless(name, "state_size")
    det = build(name, station, quantity)
    run(det, readings(station, 1000, seed=7))
    size = len(pickle.dumps(det, protocol=pickle.HIGHEST_PROTOCOL))
    assert size <= STATE_BUDGET, f"{name}: pickled state {size} B > {STATE_BUDGET} B"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_module_has_a_running_doctest(name):
    skip_unless(name, "doctest")
    module = importlib.import_module(SPECS[name].factory.__module__)
    tests = [t for t in doctest.DocTestFinder().find(module) if t.examples]
    assert tests, f"{module.__name__} has no doctest example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for t in tests:
        runner.run(t)
    assert runner.failures == 0


def test_default_detectors_are_registered():
    assert {"level_threshold", "rate_of_rise", "time_to_threshold", "sensor_fault"} <= set(SPECS)
