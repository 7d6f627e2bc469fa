"""``riverwatch tune``: a cross-validated parameter search for utility engineers.

Every candidate setting (a ``--grid``, or ``--random N`` combinations of it) is replayed over the
data and scored fold by fold as ``evaluate --cv`` does: each point's figures are *held-out* figures
(each fold scored with what was fitted on the others, e.g. NAB's threshold). The tool prints and plots
the trade-off — false warnings per day against recall and against median lead time — and marks the
Pareto front. The engineer picks a point (``--pick N``; by default the best held-out objective) and
the tool writes its settings as a TOML fragment (``[ingest.detector_params.<detector>]`` tables) that
``riverwatch run`` accepts as it is. Beside it, the nested cross-validated figure of *choosing* by the
objective (chosen on the training folds only, never on the test fold): the honest expectation.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_commands(parser.add_subparsers(dest="command"))
>>> a = parser.parse_args(["tune", "d", "--format", "usgs", "--random", "4", "--seed", "2", "--out", "o"])
>>> a.random, a.seed, a.pick, a.func is run
(4, 2, None, True)
>>> print(toml_fragment({"rate_of_rise": {"persist_readings": 3, "fractions": [0.1, 0.2]}}), end="")
[ingest.detector_params.rate_of_rise]
persist_readings = 3
fractions = [0.1, 0.2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Sequence

from evaluation import cv
from evaluation.search import add_search_options
from riverwatch.errors import ConfigError


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tune`` to the ``riverwatch`` command."""
    from evaluation.cli import DEFAULT_LEAD_WINDOW_MIN, FORMATS

    p = subparsers.add_parser("tune", help="cross-validated search of detector settings; writes a TOML fragment",
                              description=__doc__.splitlines()[0])
    p.add_argument("data", nargs="+", help="data folder or file (usgs, gecco, qld: several allowed)")
    p.add_argument("--format", required=True, choices=[f for f in FORMATS if f in DEFAULT_LEAD_WINDOW_MIN
                                                       and f != "influx"])
    p.add_argument("--detector", action="append", default=[], help="registered detector (repeatable; default: "
                   "those of the format's hazard)")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="fixed parameter of every point")
    p.add_argument("--out", type=Path, required=True, help="results folder")
    p.add_argument("--pick", type=int, default=None, metavar="N", help="the point to write (default: the best "
                   "held-out objective)")
    p.add_argument("--categories", default="", help="nab: comma-separated category folders, or 'real'")
    p.add_argument("--limit", type=int, default=0, help="replay only the first N series")
    p.add_argument("--lead-window", type=float, default=None, help="minutes before an event a warning counts")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_search_options(p.add_argument_group("search"), sampling=True)
    p.set_defaults(func=run)


def pareto_front(points: Sequence[dict]) -> list[int]:
    """Indices of the points no other point beats: fewer or equal false warnings per day, and at least
    the recall and median lead, one of them strictly (missing figures count as worst).

    >>> pts = [{"false_per_day": 0.1, "recall": 0.5, "lead_median_minutes": 10.0},
    ...        {"false_per_day": 0.2, "recall": 0.9, "lead_median_minutes": 10.0},
    ...        {"false_per_day": 0.3, "recall": 0.8, "lead_median_minutes": 5.0}]
    >>> pareto_front(pts)
    [0, 1]
    """
    def vec(p: dict) -> tuple[float, float, float]:
        fpd, rec, lead = p.get("false_per_day"), p.get("recall"), p.get("lead_median_minutes")
        return (-(fpd if fpd is not None else float("inf")), rec if rec is not None else -1.0,
                lead if lead is not None else float("-inf"))

    v = [vec(p) for p in points]
    return [k for k, a in enumerate(v)
            if not any(all(bj >= aj for aj, bj in zip(a, b)) and b != a for b in v)]


def toml_fragment(params: dict[str, dict[str, Any]], comment: Sequence[str] = ()) -> str:
    """``[ingest.detector_params.<detector>]`` tables of ``params`` (TOML; JSON-style values)."""
    lines = [f"# {line}" for line in comment]
    for name, values in params.items():
        if not values:
            continue
        lines += [f"[ingest.detector_params.{name}]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v))


def run(args: argparse.Namespace) -> int:
    """Search, print and plot the trade-off, write ``chosen.toml`` and ``tune.json``."""
    from evaluation.cli import DEFAULT_LEAD_WINDOW_MIN

    lead_window = 60.0 * (args.lead_window if args.lead_window is not None else DEFAULT_LEAD_WINDOW_MIN[args.format])
    series, names, cands, scorer, folds, cap = cv.setup(args, lead_window, sample=args.random, seed=args.seed)
    result = cv.cross_validate(series, names, cands, args.format, scorer, folds, progress=not args.no_progress)
    points = [{"number": c.number, "label": c.label, "params": c.params, **cv._clean(f)}
              for c, f in zip(cands, result.per_candidate)]
    front = pareto_front(points)
    best = max(range(len(cands)), key=lambda k: cv.ranked(scorer, cands[k], result.per_candidate[k]))
    picked = best if args.pick is None else args.pick
    if not 0 <= picked < len(cands):
        raise ConfigError(f"option --pick: {picked} is not a point number (0 … {len(cands) - 1})")
    args.out.mkdir(parents=True, exist_ok=True)
    from evaluation.plots import plot_tradeoff  # matplotlib: only when drawing

    plot = plot_tradeoff(points, front, picked, args.out / "tradeoff.png",
                         recall_label="fault runs flagged" if args.format == "qld" else "recall")
    section = cv.cv_section(result, cands, args.format, cap)
    comment = [f"riverwatch tune --format {args.format}: point {picked} [{cands[picked].label}] of {len(cands)}",
               f"held out: {cv.figures_text(args.format, result.per_candidate[picked])}",
               f"detectors tuned: {', '.join(names)} (list them in ingest.detectors to run them)"]
    fragment = toml_fragment(cands[picked].params, comment)
    (args.out / "chosen.toml").write_text(fragment)
    report = {"format": args.format, "data": [str(p) for p in args.data], "detectors": list(names),
              "objective": cv.objective_text(args.format, cap), "points": points, "pareto_front": front,
              "best_held_out": best, "picked": picked, "plot": str(plot.relative_to(args.out)),
              "toml": "chosen.toml", "cv": section}
    (args.out / "tune.json").write_text(json.dumps(report, indent=2, default=cv._jsonable) + "\n")
    print_points(args.format, points, front, picked)
    print(f"nested cross-validation of choosing by the objective: in-sample "
          f"{cv._fmt(section['in_sample']['objective'])}, held out {cv._fmt(section['pooled_held_out']['objective'])}"
          f", gap {cv._fmt(section['gap'])}")
    print(f"wrote {args.out / 'chosen.toml'} (point {picked}) and {args.out / 'tradeoff.png'}")
    return 0


def print_points(fmt: str, points: Sequence[dict], front: Sequence[int], picked: int) -> None:
    """One line per point: held-out figures, ``*`` on the Pareto front, ``>`` the picked one."""
    print(f"{len(points)} points (held-out figures; * Pareto front, > picked):")
    for k, p in enumerate(points):
        mark = (">" if k == picked else " ") + ("*" if k in front else " ")
        print(f"{mark} {p['number']:3d} [{p['label']}] objective={cv._fmt(p['objective'])} "
              f"false/day={cv._fmt(p['false_per_day'])} recall={cv._fmt(p['recall'])} "
              f"lead={cv._fmt(p['lead_median_minutes'])} min")
