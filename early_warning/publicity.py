"""Who may see a warning: corroboration by neighbours or by the same site, and the hold-back of
warnings whose evidence rests only on sensors flagged as faulty (see :mod:`early_warning.lifecycle`
for the rules).

:class:`Publicity` reads the book's warnings and decides ``public``, ``corroborating`` and ``held``
of one warning at a time; the book decides when to ask and which events follow.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> from early_warning.params import LifecycleParams
>>> cat = load_catalog("catalog/demo.toml")
>>> pub = Publicity(cat, LifecycleParams(), {})
>>> pub.neighbours["gauge-grenzbruecke"]
('gauge-hochtal', 'gauge-lacville')
"""

from __future__ import annotations

from detectors.base import Finding
from early_warning.params import PROPAGATION, LifecycleParams
from early_warning.records import OpenWarning, own_level, quantities_of
from riverwatch.catalog import Catalog


class Publicity:
    """Corroboration and sensor hold-back over the book's ``warnings``.

    Parameters
    ----------
    catalog
        Stations and their upstream/downstream neighbours.
    params
        The lifecycle parameters (which hazards are corroborated, private, held back).
    warnings
        The book's warnings by ``(partner, station, hazard)`` (read, never changed here).
    """

    __slots__ = ("catalog", "params", "warnings", "neighbours")

    def __init__(self, catalog: Catalog, params: LifecycleParams,
                 warnings: dict[tuple[str, str, str], OpenWarning]) -> None:
        self.catalog = catalog
        self.params = params
        self.warnings = warnings
        self.neighbours: dict[str, tuple[str, ...]] = {}
        for st in catalog.stations:
            near = [s.id for s in catalog.upstream_of(st.id)]
            if st.downstream:
                near.append(st.downstream)
            self.neighbours[st.id] = tuple(dict.fromkeys(near))

    def refresh(self, w: OpenWarning) -> bool:
        """Recompute ``public``, ``corroborating`` and ``held`` of ``w``; True when any changed."""
        p = self.params
        corroborating = tuple(sorted(n for n in self.neighbours.get(w.station, ())
                                     if self._is_open(n, w.hazard)))
        held = self.held_by(w)
        if w.hazard in p.private_hazards or held:
            public = False
        elif w.hazard in p.corroborate_hazards:
            public = bool(corroborating) or self._same_site(w)
        else:
            public = True
        changed = public != w.public or corroborating != w.corroborating or held != w.held
        w.public, w.corroborating, w.held = public, corroborating, held
        return changed

    def suspect(self, partner: str, station_id: str, rose_s: float | None = None) -> frozenset[str]:
        """Quantities of the station a sensor stream currently flags (dropouts aside).

        With ``rose_s`` (when a warning last went up), a sensor that froze no earlier than that is
        not suspect *for that warning*: the warning rests on the readings before the freeze, and a
        freeze, like a dropout, says nothing new about the values (a gauge pinned at the top of its
        range at a flood's crest keeps the flood warning it had).
        """
        out: set[str] = set()
        for hazard in self.params.private_hazards:
            w = self.warnings.get((partner, station_id, hazard))
            if w is None:
                continue
            for name, s in w.streams.items():
                f = s.finding
                if f is not None and dict(f.details).get("fault") in self.params.hold_exempt_faults:
                    continue
                if rose_s is not None and froze_since(f, rose_s):
                    continue
                q = f.quantity if f is not None and f.quantity else name.partition(":")[2]
                if q:
                    out.add(q)
        return frozenset(out)

    def held_by(self, w: OpenWarning) -> tuple[str, ...]:
        """The suspect quantities ``w`` rests on when it must be held back, else ``()``."""
        if w.hazard not in self.params.hold_hazards:
            return ()
        evidence = quantities_of((n, s) for n, s in w.streams.items() if not n.startswith(PROPAGATION + ":"))
        if evidence:
            suspect = self.suspect(w.partner, w.station, w.rose_s if w.open else None)
            if not suspect or not evidence <= suspect:
                return ()
            held = tuple(sorted(evidence))
        elif w.held:
            held = w.held  # quiet: a held warning stays held until it clears
        else:
            return ()
        return () if self._corroborated_elsewhere(w) else held

    def neighbour_warnings(self, w: OpenWarning):
        """The open warnings of ``w``'s hazard at its neighbours."""
        for n in self.neighbours.get(w.station, ()):
            st = self.catalog.by_id(n)
            o = self.warnings.get((st.partner, st.id, w.hazard)) if st else None
            if o is not None and o.open:
                yield o

    def _same_site(self, w: OpenWarning) -> bool:
        """Several quantities of the station depart together (streams or multivariate evidence)."""
        return len(quantities_of(w.streams.items())) >= 2

    def _corroborated_elsewhere(self, w: OpenWarning) -> bool:
        """A propagated warning from upstream, or a neighbour's own unheld warning of the hazard."""
        if any(n.startswith(PROPAGATION + ":") for n in w.streams):
            return True
        return any(not o.held and own_level(o) > 0 for o in self.neighbour_warnings(w))

    def _is_open(self, station_id: str, hazard: str) -> bool:
        st = self.catalog.by_id(station_id)
        if st is None:
            return False
        o = self.warnings.get((st.partner, st.id, hazard))
        return o is not None and o.open and not o.held


def froze_since(finding: Finding | None, t_s: float) -> bool:
    """Whether ``finding`` is a stuck sensor whose value froze at or after ``t_s``.

    >>> from detectors.base import Finding
    >>> from riverwatch.model import Level
    >>> stuck = Finding("sensor_fault", "sensor", Level.ADVISORY, "water_level", 2.4, 1.0, None, None,
    ...                 "sensor.stuck", (("fault", "stuck"), ("frozen_since_s", "1000.000")))
    >>> froze_since(stuck, 1000.0), froze_since(stuck, 1000.5)
    (True, False)
    """
    if finding is None:
        return False
    since = dict(finding.details).get("frozen_since_s")
    return since is not None and float(since) >= t_s
