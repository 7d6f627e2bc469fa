"""A slow least-squares fit of several responses on two regressors, learnt one reading at a time.

Used by ``quality_residual`` to predict the part of a water-quality departure that a change of
flow explains (responses: quality departures; regressors: the departures of two flows).
"""

from __future__ import annotations

import math

from riverwatch.state import Slotted


class TwoRegressorFit(Slotted):
    """EWMA ridge regression of responses ``r[i]`` on two regressors ``(f0, f1)``.

    EWMAs (time constant ``tau_s``) of the regressors' second moments, shared, and per response of
    ``r·f0`` and ``r·f1``; ``coef[i]`` solves the ridge normal equations, so ``coef[i]·f`` is the
    part of response ``i`` the regressors explain. One regressor: pass ``f1 = 0``.

    >>> fit = TwoRegressorFit(1)
    >>> for i in range(200):
    ...     f = (-1.0) ** i * (i % 7)
    ...     fit.learn(60.0 * i, f, 0.0, (0.5 * f,), 86400.0)
    >>> [round(c, 3) for c in fit.coef[0]], round(fit.explained(0, 2.0, 0.0), 3)
    ([0.5, 0.0], 1.0)
    """

    __slots__ = ("g00", "g01", "g11", "cross", "coef", "t", "n")

    def __init__(self, responses: int) -> None:
        self.g00 = self.g01 = self.g11 = 0.0
        self.cross = [[0.0, 0.0] for _ in range(responses)]
        self.coef = [[0.0, 0.0] for _ in range(responses)]
        self.t, self.n = 0.0, 0

    def explained(self, i: int, f0: float, f1: float) -> float:
        """The part of response ``i`` explained by the regressors ``f0``, ``f1``."""
        c = self.coef[i]
        return c[0] * f0 + c[1] * f1

    def learn(self, t: float, f0: float, f1: float, r, tau_s: float) -> None:
        """Learn regressors ``f0``, ``f1`` and responses ``r`` (None: absent) observed at ``t``."""
        b = max(1.0 - math.exp(-max(t - self.t, 0.0) / tau_s), 1.0 / (self.n + 1)) if self.n else 1.0
        g00 = self.g00 = self.g00 + b * (f0 * f0 - self.g00)
        g01 = self.g01 = self.g01 + b * (f0 * f1 - self.g01)
        g11 = self.g11 = self.g11 + b * (f1 * f1 - self.g11)
        eps = 1e-6 * (g00 + g11) + 1e-300          # ridge: a regressor that never moves explains nothing
        g00 += eps
        g11 += eps
        det = g00 * g11 - g01 * g01
        for i, ri in enumerate(r):
            if ri is not None:
                c = self.cross[i]
                c0 = c[0] = c[0] + b * (ri * f0 - c[0])
                c1 = c[1] = c[1] + b * (ri * f1 - c[1])
                self.coef[i] = [(g11 * c0 - g01 * c1) / det, (g00 * c1 - g01 * c0) / det] if det > 0 else [0.0, 0.0]
        self.t, self.n = t, self.n + 1
