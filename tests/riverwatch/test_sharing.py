"""Sharing agreements in the catalog: checked at load with messages that name the mistake."""

from __future__ import annotations

import pytest

from riverwatch.catalog import Catalog, load_catalog
from riverwatch.settings import REPO_ROOT

DEMO = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
AGREEMENT = {"from": "rivertown", "to": "lacville", "data": "aggregate",
             "aggregate": {"window_s": 900, "functions": ["mean", "max"]}, "delay_s": 3600,
             "hazards": ["flood"], "cap": False, "agreement": "GB-2027-01", "purpose": "flood early warning"}


def with_sharing(*policies: dict) -> Catalog:
    doc = DEMO.model_dump(by_alias=True, exclude={"sharing"})
    return Catalog.model_validate({**doc, "sharing": list(policies)})


def test_an_agreement_replaces_shares_with_for_its_pair_only():
    catalog = with_sharing(AGREEMENT)
    down = catalog.sharing_policy("rivertown", "lacville")
    assert (down.agreement, down.data, down.delay_s, down.raw) == ("GB-2027-01", "aggregate", 3600.0, False)
    assert down.covers_hazard("flood") and not down.covers_hazard("water_quality")
    assert catalog.sharing_policy("lacville", "rivertown").agreement == "shares_with"  # the other way: unchanged


@pytest.mark.parametrize("change, named", [
    ({"to": "atlantis"}, "unknown partner 'atlantis'"),
    ({"stations": ["gauge-nowhere"]}, "unknown station 'gauge-nowhere'"),
    ({"quantities": ["ozone"]}, "unknown quantity 'ozone'"),
    ({"hazards": ["meteor"]}, "unknown hazard 'meteor'"),
    ({"data": "raw", "aggregate": None, "delay_s": 0, "quantities": ["water_level"]},
     "raw readings cannot be limited to quantities"),
    ({"data": "raw", "aggregate": None}, "a delay needs data = 'aggregate'"),
    ({"aggregate": None}, "needs an [aggregate] table"),
    ({"warnings": False, "cap": True}, "cap = true needs warnings = true"),
    ({"aggregate": {"window_s": 900, "functions": ["median"]}}, "functions"),
])
def test_a_contradictory_or_unknown_agreement_is_refused(change, named):
    with pytest.raises(ValueError, match=named.replace("[", r"\[").replace("]", r"\]")):
        with_sharing({**AGREEMENT, **change})


def test_two_agreements_for_one_pair_are_refused():
    with pytest.raises(ValueError, match="a second agreement for the same pair"):
        with_sharing(AGREEMENT, {**AGREEMENT, "agreement": "GB-2027-02"})
