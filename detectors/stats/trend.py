"""Robust trends: the median of pairwise slopes (Theil–Sen) and how consistently they agree.

Agreement is (rising − falling pairs) / pairs, in [-1, 1]: near ±1 when the trend is consistent,
near 0 for noise.
"""

from __future__ import annotations

from typing import Iterable, Sequence


def median(values: Iterable[float]) -> float:
    """Median of a few values (0.0 when empty).

    >>> median([3.0, 1.0, 2.0]), median([4.0, 1.0, 2.0, 3.0]), median([])
    (2.0, 2.5, 0.0)
    """
    ordered = sorted(values)
    return _middle(ordered) if ordered else 0.0


def _middle(ordered: list[float]) -> float:
    """Median of a non-empty sorted list."""
    n = len(ordered)
    return ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])


def slope_agreement(ts: Sequence[float], vs: Sequence[float]) -> tuple[float, float]:
    """Median pairwise slope and agreement ((rising − falling pairs) / pairs, in [-1, 1]).

    >>> slope_agreement([0, 1, 2, 3], [1.0, 2.0, 2.9, 4.1])
    (1.0166666666666666, 1.0)
    """
    slope, agreement, _ = _pairwise(ts, vs)
    return slope, agreement


def _pairwise(ts: Sequence[float], vs: Sequence[float]) -> tuple[float, float, int]:
    """Median pairwise slope, agreement and the number of pairs with distinct times."""
    n = len(ts)
    slopes: list[float] = []
    up = down = 0
    for i in range(n - 1):
        ti, vi = ts[i], vs[i]
        for j in range(i + 1, n):
            dt = ts[j] - ti
            if dt > 0:
                s = (vs[j] - vi) / dt
                slopes.append(s)
                if s > 0:
                    up += 1
                elif s < 0:
                    down += 1
    if not slopes:
        return 0.0, 0.0, 0
    slopes.sort()
    m = len(slopes)
    return _middle(slopes), (up - down) / m, m


def theil_sen(ts: Sequence[float], vs: Sequence[float]) -> tuple[float, float, float]:
    """Robust line through points: ``(slope, value at the last t, Kendall-like agreement)``.

    The slope is the median of pairwise slopes, the value at the last ``t`` the median of the
    points moved along it.

    Examples
    --------
    >>> slope, last, agree = theil_sen([0, 1, 2, 3], [1.0, 2.0, 2.9, 4.1])
    >>> round(slope, 2), round(last, 2), agree
    (1.02, 4.04, 1.0)
    """
    slope, agreement, pairs = _pairwise(ts, vs)
    if not pairs:
        return 0.0, (vs[-1] if len(vs) else 0.0), 0.0
    t_last = ts[-1]
    return slope, median(v - slope * (t - t_last) for t, v in zip(ts, vs)), agreement
