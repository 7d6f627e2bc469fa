"""Candidate detector settings for cross-validation and ``riverwatch tune``: a grid from ``--grid``
options (or a small default per format), all of it or a seeded random sample.

``--grid name.k=v1,v2,…`` (repeatable) gives the values of one parameter; the candidates are every
combination. A value is read as ``--param`` reads it (JSON when it parses), and commas inside
brackets belong to the value: ``--grid 'quality_residual.levels=[6,12,24,48],[8,16,32,64]'``.

Examples
--------
>>> split_values("1,2.5,[3,4]")
['1', '2.5', '[3,4]']
>>> [c.label for c in candidates(["adaptive_anomaly"], ["hold=50,100", "average=2,4"])]
['hold=50 average=2', 'hold=50 average=4', 'hold=100 average=2', 'hold=100 average=4']
>>> [c.label for c in candidates(["adaptive_anomaly"], ["hold=50,100,200"], sample=2, seed=1)]
['hold=50', 'hold=200']
"""

from __future__ import annotations

import argparse
import itertools
import random
from dataclasses import dataclass
from typing import Any, Sequence

from evaluation.replay import split_params
from riverwatch.errors import ConfigError

#: Small default grids per format and detector (a cross-validated run of one format finishes in
#: minutes); a run uses the grids of the detectors it replays.
DEFAULT_GRIDS: dict[str, dict[str, tuple[str, ...]]] = {
    # nab: no search. Leave-one-category-out showed the hold x average search over-fits (a held-out
    # category falls to 56.5 while training folds reach 66-71); the defaults alone score 64.4. The same
    # for context_anomaly (margin x orders, 6 candidates: 52.3 against 58.1 fixed) and anomaly_ensemble
    # (weight 0.8,1.0: 65.3 against 66.0 fixed; with margin 0.1,0.2 too: 63.7).
    "nab": {},
    "csv": {"adaptive_anomaly": ("hold=50,100,200", "average=2,4,8")},
    # gecco: the early decisions (persistence waived for 3 quantities at once, or for 2 far out
    # together) are candidates, off first, so cross-validation weighs their lead against their cost.
    "gecco": {"quality_residual": ("levels=[6,12,24,48],[8,16,32,64],[12,24,48,96]", "agree_quantities=0,3",
                                   "quick_ratio=0,2,3"),
              "water_quality_event": ("depart_z=3,4,6",)},
    "usgs": {"rate_of_rise": ("persist_readings=1,2,3",), "time_to_threshold": ("horizon_s=5400,10800,21600",)},
    "qld": {"sensor_fault": ("spike_k=6,8,12", "noise_factor=2,3,5")},
}
#: Caps of the constrained objectives: false warnings per day (usgs, gecco), false sensor flags per day
#: (qld).
DEFAULT_CAPS = {"usgs": 0.15, "gecco": 0.3, "qld": 0.05}


@dataclass(frozen=True, slots=True)
class Candidate:
    """One point of the search: its number, the ``k=v`` options that make it, and the checked
    parameters per detector."""

    number: int
    pairs: tuple[str, ...]
    params: dict[str, dict[str, Any]]

    @property
    def changes(self) -> int:
        """How many of its parameters differ from their detector's defaults: of candidates that score
        the same, the one that moves the least is chosen (a tie is no evidence to move).

        >>> Candidate(0, ("rate_of_rise.persist_readings=2",), {"rate_of_rise": {"persist_readings": 2}}).changes
        0
        """
        from detectors.base import get

        n = 0
        for name, given in self.params.items():
            spec = get(name)
            chosen, default = spec.parse_params(given), spec.parse_params({})
            n += sum(1 for key in given if getattr(chosen, key) != getattr(default, key))
        return n

    @property
    def label(self) -> str:
        """The options, short: ``hold=50 average=2`` (detector prefixes dropped unless two share a name)."""
        keys = [p.split("=", 1)[0] for p in self.pairs]
        short = [k.rpartition(".")[2] for k in keys]
        return " ".join((s if short.count(s) == 1 else k) + "=" + p.split("=", 1)[1]
                        for k, s, p in zip(keys, short, self.pairs)) or "defaults"


def add_search_options(group: argparse._ArgumentGroup, *, sampling: bool = False) -> None:
    """``--grid`` and ``--cap`` (and ``--random``/``--seed`` with ``sampling``)."""
    group.add_argument("--grid", action="append", default=[], metavar="NAME.K=V1,V2",
                       help="candidate values of one detector parameter (repeatable; default: a small grid "
                       "per format)")
    group.add_argument("--cap", type=float, default=None,
                       help="usgs, gecco: most false warnings per day, qld: most false sensor flags per day "
                       f"(defaults {DEFAULT_CAPS})")
    if sampling:
        group.add_argument("--random", type=int, default=0, metavar="N",
                           help="try N random combinations of the grid instead of all of it")
        group.add_argument("--seed", type=int, default=0, help="seed of --random")


def split_values(text: str) -> list[str]:
    """The comma-separated values of ``text``, commas inside brackets kept."""
    out, depth, current = [], 0, ""
    for ch in text:
        depth += ch in "[{("
        depth -= ch in "]})"
        if ch == "," and depth == 0:
            out.append(current)
            current = ""
        else:
            current += ch
    return [v.strip() for v in [*out, current] if v.strip()]


def axes(grid: Sequence[str]) -> list[list[str]]:
    """Per ``--grid`` option the ``k=v`` pairs of its values."""
    out = []
    for option in grid:
        key, sep, values = option.partition("=")
        if not sep or not key or not split_values(values):
            raise ConfigError(f"option --grid: {option!r} is not name.k=v1,v2,…")
        out.append([f"{key}={v}" for v in split_values(values)])
    return out


def candidates(names: Sequence[str], grid: Sequence[str], fixed: Sequence[str] = (), *, sample: int = 0,
               seed: int = 0) -> list[Candidate]:
    """Every combination of the ``grid`` values (``fixed`` ``--param`` options under each), or
    ``sample`` of them drawn with ``seed``; each checked as ``--param`` options are."""
    combos = list(itertools.product(*axes(grid)))
    if sample and sample < len(combos):
        keep = sorted(random.Random(seed).sample(range(len(combos)), sample))
        combos = [combos[k] for k in keep]
    return [Candidate(k, tuple(combo), split_params(names, [*fixed, *combo])) for k, combo in enumerate(combos)]


def grid_for(fmt: str, given: Sequence[str], names: Sequence[str] | None = None) -> list[str]:
    """The ``--grid`` options given, or the format's default grid of the detectors in ``names``
    (every detector of the format when None; none with a grid: the defaults alone).

    >>> grid_for("gecco", [], ["quality_residual"])[1:]
    ['quality_residual.agree_quantities=0,3', 'quality_residual.quick_ratio=0,2,3']
    >>> grid_for("gecco", [], ["water_quality_event"]), grid_for("gecco", [], ["relative_rise"])
    (['water_quality_event.depart_z=3,4,6'], [])
    """
    if given:
        return list(given)
    grids = DEFAULT_GRIDS.get(fmt, DEFAULT_GRIDS["csv"])
    return [f"{name}.{axis}" for name, axes in grids.items() if names is None or name in names for axis in axes]
