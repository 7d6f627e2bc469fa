"""Acknowledgement rules: who may acknowledge which warning, refusals that change nothing, reminders."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from early_warning.acks import AckBook, AckRefused, parse_ack
from riverwatch.catalog import Catalog
from riverwatch.ack_contract import ACK_REASONS, MAX_ACK_BYTES
from riverwatch.model import Level, WarningEvent

_GAUGE = {"kind": "river_gauge", "lat": 50.1, "lon": 8.2, "river": "Grenzfluss",
          "quantities": {"water_level": {"levels": {"watch": 2.5, "warning": 3.0}}}}
CATALOG = Catalog.model_validate({
    "partners": [{"id": "up", "name": "Up", "country": "DE", "shares_with": ["down"]},
                 {"id": "down", "name": "Down", "country": "FR"},
                 {"id": "far", "name": "Far", "country": "AT"}],
    "stations": [{"id": "g-up", "partner": "up", "name": "G up", **_GAUGE},
                 {"id": "g-down", "partner": "down", "name": "G down", **_GAUGE}]})
T0 = 1_800_000_000.0


def event(partner="up", station="g-up", level=Level.WATCH, state="raised", public=True, t=T0):
    since = int(T0 * 1e9)
    return WarningEvent(f"{partner}.{station}.flood.{since}", partner, station, "flood", level, state,
                        public, since, int(t * 1e9), "level_threshold", "water_level", 2.6, 2.5, 1.04)


def ack(**fields):
    return json.dumps({"by": "anna", "role": "operator", **fields}).encode()


def test_owner_and_sharing_partner_acknowledge_once_each_with_comment_and_time():
    book = AckBook(CATALOG, remind_after_s=900)
    ev = event()
    book.observe(ev)
    a = book.accept(ack(comment="gates closed", action="closed flood gates"), "up", ev.id, "operator",
                    T0 + 120)
    b = book.accept(ack(by="jean"), "down", ev.id, "operator", T0 + 300)
    assert (a.partner, a.by, a.role, a.after_s, a.comment, a.action) == (
        "up", "anna", "operator", 120.0, "gates closed", "closed flood gates")
    assert (b.partner, b.by, b.after_s, b.comment) == ("down", "jean", 300.0, "")


@pytest.mark.parametrize("payload, partner, wid, role, reason", [
    (ack(), "up", "up.g-up.flood.0", "operator", "ack_unknown_warning"),
    (ack(), "far", None, "operator", "ack_other_partner"),
    (ack(role="admin"), "up", None, "operator", "ack_forged_role"),
    (ack(comment="x" * MAX_ACK_BYTES), "up", None, "operator", "ack_oversize"),
    (ack(comment="x" * 501), "up", None, "operator", "ack_bad_schema"),
    (ack(extra="1"), "up", None, "operator", "ack_bad_schema"),
    (b"[1]", "up", None, "operator", "ack_bad_json"),
    (b"\xff\xfe", "up", None, "operator", "ack_bad_json"),
])
def test_hostile_acknowledgements_are_refused_with_a_reason_and_change_nothing(payload, partner, wid,
                                                                                role, reason):
    book = AckBook(CATALOG, remind_after_s=900)
    ev = event()
    book.observe(ev)
    with pytest.raises(AckRefused) as refused:
        book.accept(payload, partner, wid or ev.id, role, T0 + 60)
    assert refused.value.reason == reason and reason in ACK_REASONS
    # nothing changed: the reminder is still due and the owner can still acknowledge
    assert [e.id for e in book.reminders_due(T0 + 900)] == [ev.id]
    assert book.accept(ack(), "up", ev.id, "operator", T0 + 1000).partner == "up"


def test_replayed_acknowledgement_is_refused_and_keeps_the_first():
    book = AckBook(CATALOG)
    ev = event()
    book.observe(ev)
    first = book.accept(ack(comment="first"), "up", ev.id, "operator", T0 + 10)
    with pytest.raises(AckRefused, match="ack_replayed"):
        book.accept(ack(comment="second"), "up", ev.id, "operator", T0 + 20)
    assert first.comment == "first"


def test_unacknowledged_watch_is_reminded_every_interval_and_counted_until_acknowledged():
    book = AckBook(CATALOG, remind_after_s=900)
    ev = event()
    book.observe(ev)
    assert book.reminders_due(T0 + 899) == []
    assert [e.id for e in book.reminders_due(T0 + 900)] == [ev.id]
    assert book.reminders_due(T0 + 1000) == []
    assert [e.id for e in book.reminders_due(T0 + 1800)] == [ev.id]
    assert book.reminder_count() == 2
    book.accept(ack(), "down", ev.id, "operator", T0 + 1900)
    assert book.reminders_due(T0 + 9000) == []


def test_advisories_maintenance_notices_and_cleared_warnings_get_no_reminder():
    book = AckBook(CATALOG, remind_after_s=900)
    advisory = event(level=Level.ADVISORY)
    notice = replace(event(), id="up.g-up.sensor.1", hazard="sensor", public=False)
    flood = event(partner="down", station="g-down")
    for ev in (advisory, notice, flood, replace(flood, state="cleared", level=Level.NONE)):
        book.observe(ev)
    assert book.reminders_due(T0 + 10_000) == []
    with pytest.raises(AckRefused, match="ack_unknown_warning"):
        book.accept(ack(), "down", flood.id, "operator", T0 + 10_000)


def test_parse_ack_requires_by_and_role():
    with pytest.raises(AckRefused, match="ack_bad_schema"):
        parse_ack(b'{"role": "operator"}')


def test_reminder_interval_is_a_setting():
    from riverwatch.settings import Settings
    settings = Settings(acks={"remind_after_s": 60})
    book = AckBook(CATALOG, remind_after_s=settings.acks.remind_after_s)
    book.observe(event())
    assert len(book.reminders_due(T0 + 60)) == 1
    with pytest.raises(ValueError):
        Settings(acks={"remind_after_s": 0})


def test_a_warning_replayed_from_old_data_is_timed_from_its_publication():
    """A worker catching up on six-hour-old readings publishes the warning now: the time to
    acknowledge and the first reminder count from that moment, not from the readings' clock."""
    book = AckBook(CATALOG, remind_after_s=900)
    ev = event()  # raised at T0 by its readings' clock
    published = T0 + 6 * 3600
    book.observe(ev, published)
    assert book.reminders_due(published + 60) == []  # six hours "late" by the data, one minute by the worker
    assert [r.id for r in book.reminders_due(published + 900)] == [ev.id]
    assert book.accept(ack(), "up", ev.id, "operator", published + 1200).after_s == 1200.0


def test_agreements_decide_who_may_acknowledge_and_whether_names_travel():
    """A sharing agreement that gives ``down`` only flood warnings, without acknowledgements, keeps
    ``down`` from acknowledging; names are published only where every reader agreed to them."""
    doc = CATALOG.model_dump(by_alias=True, exclude={"sharing"})
    base = {"from": "up", "to": "down", "agreement": "A-1", "purpose": "test"}
    no_acks = Catalog.model_validate({**doc, "sharing": [{**base, "acks": False}]})
    book = AckBook(no_acks)
    ev = event()
    book.observe(ev)
    with pytest.raises(AckRefused, match="ack_other_partner"):
        book.accept(ack(), "down", ev.id, "operator", T0 + 60)
    assert book.names_shared("up")  # nobody else reads its acknowledgements
    assert not AckBook(Catalog.model_validate({**doc, "sharing": [base]})).names_shared("up")
    named = Catalog.model_validate({**doc, "sharing": [{**base, "operator_names": True}]})
    assert AckBook(named).names_shared("up") and AckBook(named).concerned("up", "flood") == {"up", "down"}
