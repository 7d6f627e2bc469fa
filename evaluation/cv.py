"""``riverwatch evaluate … --cv``: cross-validated evaluation.

Every candidate setting (:mod:`evaluation.search`) replays the whole corpus once. Then, for each
fold (:mod:`evaluation.folds`), the candidate with the best objective (:mod:`evaluation.scorers`) on
the *other* folds is chosen (of equal ones, the one changing fewest defaults), with anything else
fitted there (NAB's threshold), and scored on the left-out fold. The held-out figures of all folds
are pooled. Beside them, the in-sample figure: the
best candidate on all the data, scored on all of it; the gap between the two is how much choosing on
the data itself flatters the result.

Examples
--------
>>> import numpy as np
>>> from evaluation.datasets import Event, Series, synthetic_station
>>> from evaluation.search import candidates
>>> from evaluation.scorers import scorer_for
>>> st = synthetic_station("s", ["water_level"], plausible=False)
>>> t = 300.0 * np.arange(1200)
>>> def spiky(name, at):
...     v = np.sin(np.arange(1200) / 9.0); v[at] = 9.0
...     return Series(name, name, st, t, {"water_level": v}, (Event(t[at], t[at + 5], t[at]),))
>>> series = [spiky("a", 900), spiky("b", 1000)]
>>> cands = candidates(["adaptive_anomaly"], ["probation=300", "threshold=0.5,0.99"])
>>> res = cross_validate(series, ["adaptive_anomaly"], cands, "csv", scorer_for("csv", lead_window=0.0))
>>> [f.chosen.label for f in res.folds], res.pooled["f1"], res.in_sample["f1"]
(['probation=300 threshold=0.5', 'probation=300 threshold=0.5'], 1.0, 1.0)
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from tqdm import tqdm

from evaluation import datasets
from evaluation.folds import Fold, Piece, make_folds, training
from evaluation.replay import ReplayResult
from evaluation.scorers import GECCO_F1_FLOOR, GECCO_LEAD_MINUTES, scorer_for
from evaluation.search import DEFAULT_CAPS, Candidate, candidates, grid_for
from riverwatch.errors import ConfigError

#: The headline figures printed per fold, per format.
SHOWN = {"nab": ("score", "threshold", "tp", "fp", "fn"),
         "usgs": ("events", "detected", "recall", "lead_median_minutes", "false_per_day", "quiet_warnings"),
         "qld": ("fault_runs", "fault_runs_flagged", "fault_recall", "false_sensor_flags_per_day",
                 "public_warnings_in_fault_runs", "max_flagged_fraction"),
         "gecco": ("events", "detected", "f1", "precision", "recall", "false_per_day", "lead_median_minutes")}


@dataclass(frozen=True, slots=True)
class FoldResult:
    """One fold: the candidate chosen on the other folds, its training and held-out figures, and the
    in-sample choice's figures on this fold."""

    fold: Fold
    chosen: Candidate
    training: dict
    held_out: dict
    in_sample: dict


@dataclass(frozen=True, slots=True)
class CvResult:
    """Per-fold results, pooled held-out figures, the in-sample best, and every candidate's own
    held-out figures (each fold scored with what was fitted on the others)."""

    folds: tuple[FoldResult, ...]
    pooled: dict
    best: Candidate
    in_sample: dict
    per_candidate: tuple[dict, ...]
    replays: dict[int, list[ReplayResult]]


def replay_all(series: Sequence[datasets.Series], names: Sequence[str], cands: Sequence[Candidate], fmt: str,
               folds: Sequence[Fold], progress: bool = True) -> dict[int, list[ReplayResult]]:
    """Every candidate's replay of every series; one progress step per fold and candidate."""
    from evaluation.corpus import replay_corpus

    out: dict[int, list[ReplayResult | None]] = {c.number: [None] * len(series) for c in cands}
    with tqdm(total=len(folds) * len(cands), unit="fold", desc="cv", disable=not progress, file=sys.stderr,
              mininterval=1.0) as bar:
        for c in cands:
            for fold in folds:
                todo = sorted({p.index for p in fold.pieces if out[c.number][p.index] is None})
                for k, r in zip(todo, replay_corpus([series[k] for k in todo], names, c.params, fmt=fmt,
                                                    progress=False)):
                    out[c.number][k] = r
                bar.set_postfix(candidate=c.number, refresh=False)
                bar.update(1)
    return out  # type: ignore[return-value]


def ranked(scorer, cand: Candidate, figures: dict) -> tuple:
    """``scorer``'s objective of ``figures``, higher is better; of equal ones, ``cand`` changing the
    fewest defaults ranks first (a tie is no evidence to move)."""
    return (*scorer.key(figures), -cand.changes)


def cross_validate(series: Sequence[datasets.Series], names: Sequence[str], cands: Sequence[Candidate],
                   fmt: str, scorer, folds: Sequence[Fold] | None = None, progress: bool = False) -> CvResult:
    """Choose on the training folds, score on the left-out one; see the module doc."""
    folds = list(folds or make_folds(fmt, series))
    replays = replay_all(series, names, cands, fmt, folds, progress)

    def parts(c: Candidate, pieces: Sequence[Piece]):
        return [(replays[c.number][p.index], p) for p in pieces]

    everything = tuple(p for f in folds for p in f.pieces)
    whole = {c.number: scorer.measure(parts(c, everything)) for c in cands}
    best = max(cands, key=lambda c: ranked(scorer, c, whole[c.number][0]))
    fitted = {(c.number, k): scorer.measure(parts(c, training(folds, k))) for c in cands for k in range(len(folds))}
    rows, held = [], []
    for k, fold in enumerate(folds):
        chosen = max(cands, key=lambda c: ranked(scorer, c, fitted[(c.number, k)][0]))
        train, state = fitted[(chosen.number, k)]
        held.append((parts(chosen, fold.pieces), state))
        rows.append(FoldResult(fold, chosen, train, scorer.measure(*held[-1])[0],
                               scorer.measure(parts(best, fold.pieces), whole[best.number][1])[0]))
    per_candidate = tuple(scorer.pool([(parts(c, f.pieces), fitted[(c.number, k)][1]) for k, f in enumerate(folds)])
                          for c in cands)
    return CvResult(tuple(rows), scorer.pool(held), best, whole[best.number][0], per_candidate, replays)


# --- the command ---------------------------------------------------------------------------------

def load_corpus(args: argparse.Namespace) -> list[datasets.Series]:
    """The series of every ``args.data`` path (weather series left out: they are not scored here)."""
    from evaluation.corpus import load_paths

    return [s for s in load_paths(args) if not datasets.is_weather(s)]


def setup(args: argparse.Namespace, lead_window: float, *, sample: int = 0, seed: int = 0):
    """The series, detectors, candidates, scorer and folds of a cross-validated run."""
    from evaluation.corpus import default_detectors

    series = load_corpus(args)
    names = args.detector or default_detectors(args.format)
    cands = candidates(names, grid_for(args.format, args.grid, names), args.param, sample=sample, seed=seed)
    cap = args.cap if args.cap is not None else DEFAULT_CAPS.get(args.format)
    scorer = scorer_for(args.format, lead_window=lead_window, cap=cap, data=Path(args.data[0]))
    try:
        folds = make_folds(args.format, series)
    except ValueError as exc:
        raise ConfigError(f"evaluate --cv: {exc}") from None
    return series, names, cands, scorer, folds, cap


def run(args: argparse.Namespace, lead_window: float) -> int:
    """``evaluate --cv``: cross-validate, write ``summary.json`` (its ``cv`` section) and the plot."""
    series, names, cands, scorer, folds, cap = setup(args, lead_window)
    result = cross_validate(series, names, cands, args.format, scorer, folds, progress=not args.no_progress)
    section = cv_section(result, cands, args.format, cap)
    args.out.mkdir(parents=True, exist_ok=True)
    section["plot"] = draw_cv_plot(result, args.out, args.format)
    summary = {"format": args.format, "data": [str(p) for p in args.data], "detectors": list(names),
               "series": len(series), "readings": sum(len(s) for s in series),
               "lead_window_minutes": lead_window / 60.0, "cv": section}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2, default=_jsonable) + "\n")
    print_cv(section)
    return 0


def cv_section(result: CvResult, cands: Sequence[Candidate], fmt: str, cap: float | None) -> dict:
    """The ``cv`` section of ``summary.json``."""
    held, inside = result.pooled["objective"], result.in_sample["objective"]
    return {
        "format": fmt, "folds_by": _folds_by(fmt, result), "objective": objective_text(fmt, cap), "cap": cap,
        "candidates": [{"number": c.number, "params": c.params, "label": c.label} for c in cands],
        "folds": [{"fold": f.fold.name, "chosen": f.chosen.label, "chosen_number": f.chosen.number,
                   "chosen_params": f.chosen.params, "training": _clean(f.training), "held_out": _clean(f.held_out),
                   "in_sample_choice_on_fold": _clean(f.in_sample)} for f in result.folds],
        "pooled_held_out": _clean(result.pooled),
        "in_sample": {"chosen": result.best.label, "chosen_number": result.best.number,
                      "params": result.best.params, **_clean(result.in_sample)},
        "gap": None if held is None or inside is None else round(inside - held, 4),
    }


def objective_text(fmt: str, cap: float | None) -> str:
    """The objective, in words."""
    return {"nab": "NAB standard score (threshold chosen with the settings on the training folds)",
            "usgs": f"waves warned, then median lead, with false warnings/day <= {cap}",
            "qld": f"fault runs flagged, with false sensor flags/day <= {cap}",
            "gecco": f"event F1 (ranked: false warnings/day <= {cap} first, then F1 >= {GECCO_F1_FLOOR:g}, then "
                     f"median lead >= {GECCO_LEAD_MINUTES:g} min, then F1, median lead, fewer false warnings)"}.get(
        fmt, "event F1, then fewer false warnings/day")


def _folds_by(fmt: str, result: CvResult) -> str:
    pieces = result.folds[0].fold.pieces
    if len(pieces) == 1 and pieces[0].lo != float("-inf"):
        return "season" if fmt == "qld" else "month"
    return {"nab": "category", "usgs": "event", "qld": "site"}.get(fmt, "file")


def _clean(figures: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in figures.items()}


def _jsonable(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else str(v)


def _fmt(v: Any) -> str:
    return "n/a" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def figures_text(fmt: str, f: dict) -> str:
    """The headline figures of ``fmt``, one line."""
    return "  ".join(f"{k}={_fmt(f.get(k))}" for k in SHOWN.get(fmt, SHOWN["gecco"]))


def print_cv(section: dict) -> None:
    """Per fold, pooled, in-sample and the gap."""
    key = section["format"]
    print(f"cross-validation by {section['folds_by']}: {len(section['folds'])} folds x "
          f"{len(section['candidates'])} candidates; objective: {section['objective']}")
    for f in section["folds"]:
        print(f"  {f['fold']}: chosen [{f['chosen']}] (training objective {_fmt(f['training']['objective'])}) "
              f"held-out: {figures_text(key, f['held_out'])}")
    print(f"pooled held-out: {figures_text(key, section['pooled_held_out'])}")
    print(f"in-sample [{section['in_sample']['chosen']}]: {figures_text(key, section['in_sample'])}")
    print(f"objective: in-sample {_fmt(section['in_sample']['objective'])}  cross-validated "
          f"{_fmt(section['pooled_held_out']['objective'])}  gap {_fmt(section['gap'])}")


def draw_cv_plot(result: CvResult, out: Path, fmt: str) -> str:
    """``plots/cv_folds.png``: per fold, the in-sample choice's objective against the held-out one."""
    from evaluation.plots import plot_cv_folds  # matplotlib: only when drawing

    path = plot_cv_folds([f.fold.name for f in result.folds], [f.in_sample["objective"] for f in result.folds],
                         [f.held_out["objective"] for f in result.folds], out / "plots" / "cv_folds.png",
                         ylabel=objective_text(fmt, None).split(",")[0].split("(")[0].strip(),
                         pooled=(result.in_sample["objective"], result.pooled["objective"]))
    return str(path.relative_to(out))
