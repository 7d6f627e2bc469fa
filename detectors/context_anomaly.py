"""``context_anomaly``: a contextual anomaly detector in the style of CAD OSE, for series without thresholds.

It learns which short patterns of quantised readings follow which and scores the share of the current
reading that its contexts did not predict, in [0, 1]. Per reading, plain ints and one dict:

1. **Quantise**: the reading becomes one of ``2**bits`` bins over the range of the readings seen so
   far, widened by ``margin`` × the range on each side (as CAD OSE's fixed min–max, but online: the
   bins are re-drawn only when a reading falls outside, so a new extreme lands in an end bin first and
   is scored there, but not learnt as what follows its context).
   With ``margin=0`` the bins span the long-run mean μ ± ``span``·σ instead (bias-corrected EWMA
   mean and variance, weight ``long``), which follows a drifting level. The reading's *facts* are its
   bin at every resolution from 2 to ``2**bits`` bins (the leading 1 … ``bits`` bits of the bin
   number), so a small change alters only the fine facts and a jump alters them all.
2. **Contexts**: for each resolution and each length ``1 … orders``, the facts of the last readings at
   that resolution form a context; the detector remembers, per context, which facts followed it.
3. **Score**: the share of (resolution, length) cells whose context did not predict the current fact (a
   context never seen predicts nothing). A coarse miss normally implies every finer miss, a
   short-context miss every longer one, so a jump to a new range scores 1 and a small unusual wiggle a
   little.
4. **Alert hygiene** (as CAD OSE's rest period): score 0 during ``probation`` and for ``hold`` readings
   after a score reached ``threshold``; learning goes on meanwhile, so a new pattern (a level shift)
   becomes known and stops scoring.

Memory is bounded: at most ``max_contexts`` contexts are kept; learning a context refreshes it, and the
least recently refreshed is dropped when the cap is reached. A constant series scores 0 once its one
context is known. Missing or non-finite values score 0 and are not learned. Cost: 7–13 µs per reading.
Alone it is weaker than ``adaptive_anomaly`` on NAB; ``anomaly_ensemble`` combines the two.

Examples
--------
>>> from detectors.base import example_station, get
>>> st = example_station(["water_level"])
>>> det = get("context_anomaly").build(st, "water_level", {"probation": 200})
>>> pattern = [1.0, 2.0, 3.0, 2.0] * 150 + [1.0, 2.0, 3.0, 3.0]      # a repeating pattern, then a break
>>> scores = []
>>> for i, v in enumerate(pattern):
...     x = {"t": 1.7e9 + 300 * i, "water_level": v}
...     scores.append(det.score_one(x))
...     det.learn_one(x)
>>> max(scores[:603]), scores[-1]
(0.0, 1.0)
>>> det.level(scores[-1]).name, len(det.contexts) <= det.max_contexts
('WATCH', True)
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Finding, X, register
from riverwatch.catalog import Station
from riverwatch.model import Level
from riverwatch.state import Slotted


class Params(BaseModel):
    """Parameters of ``context_anomaly`` (CAD OSE's 3 bits and 0.75; the range bins and ``margin`` chosen
    on NAB cross-validation, docs/detectors.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    probation: int = Field(750, ge=0, description="readings scored 0 while the statistics settle")
    bits: int = Field(3, ge=1, le=5, description="resolutions: 2, 4, … 2**bits bins")
    orders: int = Field(3, ge=1, le=6, description="readings in the longest context")
    margin: float = Field(0.1, ge=0, description="bins over the range seen, widened by this share of it "
                          "on each side and re-drawn when a reading falls outside; 0: μ ± span σ instead")
    span: float = Field(16.0, gt=0, description="with margin=0, bins cover the long-run mean ± span σ")
    long: float = Field(0.001, gt=0, le=1, description="EWMA weight of the long-run mean and variance")
    hold: int = Field(100, ge=0, description="readings scored 0 after an alert (CAD OSE's rest period)")
    max_contexts: int = Field(4096, ge=16, description="contexts remembered (least recently learnt dropped)")
    threshold: float = Field(0.75, gt=0, le=1, description="score of an ADVISORY (and of an alert)")
    watch: float = Field(0.95, gt=0, le=1, description="score of a WATCH")


class ContextAnomaly(Slotted):
    """Contextual anomaly score of one quantity; see the module docstring.

    ``score_one(x)`` does not change the state; ``learn_one(x)`` does (reusing the preceding
    ``score_one`` of the same reading). ``contexts`` maps a context key to the bit mask of the facts
    seen after it; ``history[r]`` packs the last ``orders`` facts at resolution ``r + 1``.
    """

    __slots__ = ("quantity", "probation", "bits", "orders", "margin", "span", "w_long", "hold", "max_contexts",
                 "threshold", "watch", "n", "mean", "var", "lo", "hi", "vmin", "vmax", "history", "contexts",
                 "last_alert", "_pending")
    transient_slots = frozenset({"_pending"})
    slot_defaults = {"_pending": None}

    def __init__(self, quantity: str, params: Params) -> None:
        self.quantity = quantity
        self.probation, self.bits, self.orders = params.probation, params.bits, params.orders
        self.margin, self.span, self.w_long = params.margin, params.span, params.long
        self.hold, self.max_contexts = params.hold, params.max_contexts
        self.threshold, self.watch = params.threshold, params.watch
        self.n = 0
        self.mean = self.var = 0.0
        self.lo, self.hi, self.vmin, self.vmax = math.inf, -math.inf, math.inf, -math.inf
        self.history = [0] * params.bits
        self.contexts: dict[int, int] = {}
        self.last_alert = -(10 ** 12)
        self._pending: tuple | None = None

    # --- protocol ---------------------------------------------------------------------------

    def score_one(self, x: X) -> float:
        """Share of the reading's facts its contexts did not predict, in [0, 1] (0 while quiet)."""
        step = self._step(x)
        return step[0] if step else 0.0

    def learn_one(self, x: X) -> None:
        """Learn ``x``: the fact after each current context, the history, the range, mean and variance."""
        step = self._step(x)
        if step is None:
            return
        score, value, keys, cells, facts = step
        contexts, cap = self.contexts, self.max_contexts
        inside = self.margin <= 0.0 or self.lo <= value <= self.hi
        for key, fact in zip(keys, cells) if inside else ():   # outside: an end bin by clamping, not learnt
            mask = contexts.pop(key, 0) | (1 << fact)      # re-inserted: the most recently learnt
            if len(contexts) >= cap:
                del contexts[next(iter(contexts))]          # the least recently learnt
            contexts[key] = mask
        keep, b = (1 << (self.bits * self.orders)) - 1, self.bits
        self.history = [((h << b) | f) & keep for h, f in zip(self.history, facts)]
        n = self.n = self.n + 1
        a = self.w_long if self.w_long * n > 1.0 else 1.0 / n
        d = value - self.mean
        self.mean += a * d
        self.var = (1.0 - a) * (self.var + a * d * d)
        self.vmin, self.vmax = min(self.vmin, value), max(self.vmax, value)
        if not self.lo <= value <= self.hi:
            w = self.margin * (self.vmax - self.vmin)
            self.lo, self.hi = self.vmin - w, self.vmax + w
        if score >= self.threshold:
            self.last_alert = n - 1
        self._pending = None

    def level(self, score: float) -> Level:
        """ADVISORY from ``threshold``, WATCH from ``watch``; never more (an anomaly is not a flood)."""
        if score >= self.watch:
            return Level.WATCH
        return Level.ADVISORY if score >= self.threshold else Level.NONE

    def evidence(self, x: X, score: float) -> Finding:
        """The value, its bin, the learned level and spread, and the share unpredicted."""
        value = float(x.get(self.quantity, math.nan))
        fine = self._facts(value)[-1] if math.isfinite(value) else -1
        if self.margin > 0.0:
            scale = (("range", f"{self.lo:.6g} … {self.hi:.6g}"),)
        else:
            scale = (("expected", f"{self.mean:.6g}"), ("spread", f"{math.sqrt(self.var):.3g}"))
        return Finding("context_anomaly", "anomaly", self.level(score), self.quantity, value, score,
                       threshold=self.threshold, message_key="anomaly",
                       details=(("bin", f"{fine}/{1 << self.bits}"), *scale))

    # --- the work -----------------------------------------------------------------------------

    def _facts(self, value: float) -> list[int]:
        """The bin of ``value`` at resolutions 2, 4, … ``2**bits``.

        >>> det = ContextAnomaly("q", Params(bits=3, margin=0.0, span=2.0))
        >>> det.mean, det.var = 0.0, 1.0
        >>> det._facts(-9.0), det._facts(0.1), det._facts(1.9)
        ([0, 0, 0], [1, 2, 4], [1, 3, 7])
        """
        bins = 1 << self.bits
        if self.margin > 0.0:
            pos = (value - self.lo) / (self.hi - self.lo + 1e-9 * (abs(self.lo) + 1.0))
        else:
            sd = math.sqrt(self.var) + 1e-9 * (abs(self.mean) + 1.0)
            pos = (value - self.mean) / (2.0 * self.span * sd) + 0.5      # 0 … 1 across the span
        p = pos * bins
        fine = (bins - 1 if p >= bins else int(p)) if p > 0.0 else 0      # NaN → 0
        return [fine >> (self.bits - r) for r in range(1, self.bits + 1)]

    def _step(self, x: X) -> tuple | None:
        """(score, value, context keys, the fact each key is asked about, facts) of ``x``, cached for the
        ``learn_one`` that follows."""
        pending = self._pending
        if pending is not None and pending[0] is x:
            return pending[1]
        value = x.get(self.quantity)
        if value is None or not math.isfinite(value):
            return None
        value = float(value)
        facts = self._facts(value) if self.n else [0] * self.bits
        keys, cells, missed = [], [], 0
        contexts, orders = self.contexts, min(self.orders, self.n)
        for r, (h, fact) in enumerate(zip(self.history, facts), start=1):
            for length in range(1, orders + 1):
                key = ((h & ((1 << (self.bits * length)) - 1)) << 8) | (r << 4) | length
                keys.append(key)
                cells.append(fact)
                missed += not (contexts.get(key, 0) >> fact) & 1
        n = self.n
        score = missed / len(keys) if keys else 0.0
        if n < self.probation or n - self.last_alert <= self.hold:
            score = 0.0
        step = (score, value, keys, cells, facts)
        self._pending = (x, step)
        return step


@register("context_anomaly", params=Params, hazard="anomaly", skip_checks=("state_size",))
def make(station: Station, quantity: str | None, params: Params) -> ContextAnomaly:
    """One detector per quantity of the station."""
    return ContextAnomaly(quantity or next(iter(station.quantities)), params)
