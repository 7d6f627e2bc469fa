"""The demo prints a shared warning in every reader's language, not only its partner's."""

from __future__ import annotations

from riverwatch.catalog import load_catalog
from riverwatch.model import Level, WarningEvent
from riverwatch.settings import REPO_ROOT

from application.demo import _texts

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")


def test_lacville_warning_shared_with_rivertown_carries_german():
    partner = CATALOG.partner("lacville")
    station = next(st for st in CATALOG.stations if st.partner == "lacville")
    event = WarningEvent(id="x", partner="lacville", station=station.id, hazard="flood", level=Level.WARNING,
                         state="raised", public=True, since_ns=0, time_ns=0, detector="level_threshold",
                         quantity="water_level", value=1.0, threshold=None, score=0.0)
    rendered = _texts(CATALOG, event, station, partner)
    assert "rivertown" in partner.shares_with
    assert list(rendered) == ["fr", "en", "de"]
    assert all(text.headline for text in rendered.values())
