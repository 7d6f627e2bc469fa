"""Flow context of :mod:`detectors.quality_residual`: a change of flow explains departures.

When the flow through a waterworks changes (a pump switched, a reservoir changed), turbidity and
conductivity move with it: expected, not an event. :class:`FlowContext` is a stateless mixin of
:class:`detectors.quality_residual.QualityResidual`; it reads the detector's own slots (``context``:
the flow quantities, ``context_tracks``: their baselines, ``levels``, ``warmup``, ``context_s``,
``context_until``, ``tau_s``, ``scale_tau_s``) and extends ``context_until`` for ``context_s``
seconds after a flow departs as far as an event would (``levels[0]``).
"""

from __future__ import annotations

from detectors.stats.cleaning import value_of
from riverwatch.state import Slotted


class FlowContext(Slotted):
    """Whether a reading is in flow context, and the flows' departures (on the detector's slots)."""

    __slots__ = ()

    def flow_changed(self, x) -> bool:
        """Whether a flow of ``x`` departs from its baseline as far as an event would."""
        th = self.levels[0]
        for q, tr in zip(self.context, self.context_tracks):
            v = value_of(x, q)
            if v is not None and tr.n >= self.warmup and abs(tr.z(v)) >= th:
                return True
        return False

    def flow_departures(self, x) -> tuple[float, float]:
        """Winsorised departures of the first two context flows from their baselines (0 when absent
        or warming up)."""
        out = [0.0, 0.0]
        for k, (q, tr) in enumerate(zip(self.context[:2], self.context_tracks)):
            v = value_of(x, q)
            if v is not None and tr.n >= self.warmup:
                out[k] = tr.departure(v)
        return out[0], out[1]

    def in_context(self, x) -> bool:
        """A flow changes now or changed within ``context_s``: the explained quantities are expected."""
        if self.context_s <= 0:
            return False
        return (value_of(x, "t") or 0.0) < self.context_until or self.flow_changed(x)

    def _learn_context(self, x, t: float) -> bool:
        """Whether ``x`` is in flow context; extend the context on a flow change; learn the flows."""
        if not self.context:
            return False
        changed = self.flow_changed(x) if self.context_s > 0 else False
        context = changed or t < self.context_until
        if changed:
            self.context_until = t + self.context_s
        for q, tr in zip(self.context, self.context_tracks):
            v = value_of(x, q)
            if v is not None:
                tr.learn(t, v, self.tau_s, self.scale_tau_s)
        return context

