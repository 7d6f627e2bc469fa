"""NAB scoring, implemented from its published definition (Lavin & Ahmad 2015; Ahmad et al. 2017).

Each labelled anomaly has a *window*. A detection is a row whose anomaly score reaches the threshold.

* Inside a window only the **first** detection counts, weighted by the scaled sigmoid
  ``σ(y) = 2 / (1 + e^{5y}) − 1`` of its position ``y`` relative to the window's right end
  (``y = −1`` at the left edge, ``y → 0`` at the right end), so an early detection earns up to
  ``A_TP`` and a late one almost nothing. Later detections in the same window are ignored.
* A detection outside every window is a false positive weighted ``A_FP · σ(y)`` with ``y`` its
  distance past the preceding window's right end in window widths (σ → −1 far from a window, −1
  before the first window), so a detection just after a window costs little.
* A window without a detection costs ``−A_FN``.
* The first 15 % of each file (at most 750 rows) is a probationary period and is not scored.

The raw corpus score is normalised to 0–100 between the null detector (no detections: ``−A_FN``
per window) and the perfect one (``A_TP`` per window); the threshold is the one that maximises the
corpus score, per profile, searched exactly over every distinct anomaly score.

Examples
--------
>>> import numpy as np
>>> f = ScoredFile("f", np.array([0, 0, 0, 0, 0, 0, 0, 1.0, 0, 0]), ((5, 8),), probation=0)
>>> std = Profile("standard", tp=1.0, fp=0.11, fn=1.0)
>>> r = corpus_score([f], std, threshold=0.5)
>>> round(r.raw, 4), r.tp, r.fp, r.fn   # y = -(8-7+1)/4 = -0.5, σ(-0.5)/σ(-1) = 0.8598
(0.8598, 1, 0, 0)
>>> round(r.score, 2)
92.99
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

#: NAB's three application profiles (the ``profiles.json`` of the corpus overrides these).
PROFILES = {"standard": (1.0, 0.11, 1.0), "reward_low_FP_rate": (1.0, 0.22, 1.0),
            "reward_low_FN_rate": (1.0, 0.11, 2.0)}


@dataclass(frozen=True, slots=True)
class Profile:
    """Weights of one application profile: ``A_TP``, ``A_FP`` and ``A_FN``."""

    name: str
    tp: float
    fp: float
    fn: float


@dataclass(frozen=True, slots=True, eq=False)
class ScoredFile:
    """One file's anomaly scores, its windows as inclusive row ranges, and its probation length."""

    name: str
    scores: np.ndarray
    windows: tuple[tuple[int, int], ...]
    probation: int


@dataclass(frozen=True, slots=True)
class Result:
    """A corpus score: normalised ``score`` (0–100), ``raw`` sum, counts, and the threshold used."""

    profile: str
    score: float
    raw: float
    threshold: float
    tp: int
    fp: int
    fn: int


def default_profiles() -> dict[str, Profile]:
    """The three NAB profiles with their published weights."""
    return {name: Profile(name, *w) for name, w in PROFILES.items()}


def profiles_from(weights: Mapping[str, Mapping[str, float]]) -> dict[str, Profile]:
    """Profiles from ``{name: {"tp":…, "fp":…, "fn":…}}`` (see ``datasets.nab_profiles``)."""
    return {name: Profile(name, w["tp"], w["fp"], w["fn"]) for name, w in weights.items()}


def scaled_sigmoid(y: float) -> float:
    """``2 / (1 + e^{5y}) − 1``, and −1 beyond three window widths.

    >>> round(scaled_sigmoid(-1.0), 4), scaled_sigmoid(0.0), round(scaled_sigmoid(1.0), 4)
    (0.9866, 0.0, -0.9866)
    """
    if y > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probation_rows(n: int, fraction: float = 0.15) -> int:
    """Length of the probationary period: 15 % of the file, at most 750 rows.

    >>> probation_rows(4000), probation_rows(20000)
    (600, 750)
    """
    return int(min(math.floor(fraction * n), fraction * 5000))


def window_rows(t: np.ndarray, windows: Iterable[tuple[float, float]]) -> tuple[tuple[int, int], ...]:
    """Inclusive row ranges of time windows ``(start, end)`` over sorted times ``t``.

    >>> window_rows(np.arange(10.0), [(2.5, 5.0)])
    ((3, 5),)
    """
    out = []
    for start, end in windows:
        lo = int(np.searchsorted(t, start, side="left"))
        hi = int(np.searchsorted(t, end, side="right")) - 1
        if hi >= lo:
            out.append((lo, hi))
    return tuple(out)


def row_weights(n: int, windows: Sequence[tuple[int, int]], probation: int,
                profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the window it lies in (−1 outside, −2 in probation) and what a detection there earns.

    >>> w, v = row_weights(6, [(2, 3)], 0, Profile("p", 1.0, 0.1, 1.0))
    >>> w.tolist(), [round(float(x), 3) for x in v]
    ([-1, -1, 0, 0, -1, -1], [-0.1, -0.1, 1.0, 0.86, -0.099, -0.1])
    """
    window = np.full(n, -1, dtype=np.int64)
    value = np.zeros(n, dtype=float)
    max_tp = scaled_sigmoid(-1.0)
    order = sorted(range(len(windows)), key=lambda j: windows[j])
    prev: tuple[int, int] | None = None
    k = 0
    for i in range(n):
        while k < len(order) and windows[order[k]][1] < i:
            prev = windows[order[k]]
            k += 1
        if k < len(order) and windows[order[k]][0] <= i:
            lo, hi = windows[order[k]]
            window[i] = order[k]
            value[i] = profile.tp * scaled_sigmoid(-(hi - i + 1) / (hi - lo + 1)) / max_tp
        elif prev is None:
            value[i] = -profile.fp
        else:
            lo, hi = prev
            value[i] = profile.fp * scaled_sigmoid(abs(i - hi) / max(hi - lo, 1))
    window[:probation] = -2
    value[:probation] = 0.0
    return window, value


def _file_arrays(files: Sequence[ScoredFile], profile: Profile):
    windows, values, scores = [], [], []
    offset = 0
    for f in files:
        w, v = row_weights(len(f.scores), f.windows, f.probation, profile)
        windows.append(np.where(w >= 0, w + offset, w))
        values.append(v)
        scores.append(np.nan_to_num(np.asarray(f.scores, dtype=float), nan=0.0))
        offset += len(f.windows)
    return np.concatenate(windows), np.concatenate(values), np.concatenate(scores), offset


def corpus_score(files: Sequence[ScoredFile], profile: Profile, threshold: float) -> Result:
    """Score the corpus with detections where ``score >= threshold``."""
    window, value, scores, n_windows = _file_arrays(files, profile)
    detected = scores >= threshold
    fp_rows = detected & (window == -1)
    raw = float(value[fp_rows].sum())
    tp = 0
    best = np.full(n_windows, -np.inf)
    rows = np.flatnonzero(detected & (window >= 0))
    np.maximum.at(best, window[rows], value[rows])
    hit = np.isfinite(best)
    tp = int(hit.sum())
    raw += float(best[hit].sum()) - profile.fn * (n_windows - tp)
    return Result(profile.name, normalise(raw, n_windows, profile), raw, threshold, tp,
                  int(fp_rows.sum()), n_windows - tp)


def normalise(raw: float, n_windows: int, profile: Profile) -> float:
    """``100 · (raw − null) / (perfect − null)``: null = no detections, perfect = every window at its start."""
    null, perfect = -profile.fn * n_windows, profile.tp * n_windows
    return 100.0 * (raw - null) / (perfect - null) if perfect > null else 0.0


def optimise(files: Sequence[ScoredFile], profile: Profile) -> Result:
    """The corpus-optimised threshold: exact search over every distinct score, as NAB's optimiser does.

    Lowering the threshold adds detections one score value at a time; false positives add their
    weight, a window's value becomes the best (earliest) detection inside it. The best total wins
    (the highest threshold among ties).

    >>> import numpy as np
    >>> f = ScoredFile("f", np.array([0.9, 0, 0, 0, 0, 0.2, 0, 0.4, 0, 0]), ((5, 8),), probation=0)
    >>> r = optimise([f], Profile("standard", 1.0, 0.11, 1.0))
    >>> r.threshold, r.tp, r.fp      # 0.9 before the window is a false positive at any useful threshold
    (0.2, 1, 1)
    """
    window, value, scores, n_windows = _file_arrays(files, profile)
    keep = window != -2
    window, value, scores = window[keep], value[keep], scores[keep]
    change_score, change_delta = [scores[window == -1]], [value[window == -1]]
    for w in range(n_windows):
        rows = np.flatnonzero(window == w)
        if not len(rows):
            continue
        order = rows[np.argsort(-scores[rows], kind="stable")]
        running = np.maximum.accumulate(value[order])
        previous = np.concatenate(([-profile.fn], running[:-1]))
        change_score.append(scores[order])
        change_delta.append(running - previous)
    s = np.concatenate(change_score)
    d = np.concatenate(change_delta)
    order = np.argsort(-s, kind="stable")
    s, d = s[order], d[order]
    base = -profile.fn * n_windows
    totals = base + np.cumsum(d)
    last_of_group = np.ones(len(s), dtype=bool)
    last_of_group[:-1] = s[:-1] != s[1:]
    candidates = np.flatnonzero(last_of_group)
    if not len(candidates) or totals[candidates].max() <= base:
        return corpus_score(files, profile, float(np.inf))
    best = candidates[np.argmax(totals[candidates])]
    return corpus_score(files, profile, float(s[best]))


def score_corpus(files: Sequence[ScoredFile], profiles: Mapping[str, Profile] | None = None
                 ) -> dict[str, Result]:
    """Corpus-optimised results for every profile (NAB's three by default)."""
    profiles = profiles or default_profiles()
    return {name: optimise(files, p) for name, p in profiles.items()}
