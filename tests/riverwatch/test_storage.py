"""Line protocol built by hand matches influxdb_client's Point, and InfluxDB reads it back."""

from __future__ import annotations

import pytest
from influxdb_client import Point

from riverwatch.model import Level, WarningEvent

from riverwatch import storage
from riverwatch.storage import reject_line, warning_line

TRICKY = ["plain", "with space", "comma,here", "equals=sign", "both, =", 'quote"d', "tab\tand\nnewline",
          "trailing\\", "back\\slash", "ümlaut-é", "=", ","]


@pytest.mark.parametrize("text", TRICKY)
def test_escaping_matches_point(text):
    fields = {"f": 1.5, "n": 3, "flag": True, f"s {text}": f"value {text}"}
    point = Point(f"m {text}").tag("t", text).tag(f"k {text}", "v")
    for key, value in fields.items():
        point = point.field(key, value)
    expected = point.time(123).to_line_protocol()
    tags = dict(sorted({"t": text, f"k {text}": "v"}.items()))  # Point sorts keys; line() keeps order
    assert storage.line(f"m {text}", tags, dict(sorted(fields.items())), 123) == expected


def test_numbers_round_trip_through_influxdb(influx):
    values = [0.1, 1e16, 1.5e-05, -3.25, 123456789.123]
    influx.write("\n".join(storage.line("reading", {"station": "s"}, {"value": v}, i + 1)
                           for i, v in enumerate(values)))
    rows = influx.query_rows('SELECT "value" FROM "reading"')
    assert [row["value"] for row in rows] == values


def test_tricky_names_round_trip_through_influxdb(influx):
    names = [t for t in TRICKY if "\\" not in t and "\n" not in t and "\t" not in t]
    influx.write("\n".join(storage.line(storage.REJECT, {"reason": name, "partner": "p"},
                                          {"detail": f'say "{name}"', "count": 1}, i + 1)
                           for i, name in enumerate(names)))
    rows = influx.query_rows('SELECT * FROM "reject"')
    assert sorted(row["reason"] for row in rows) == sorted(names)
    assert sorted(row["detail"] for row in rows) == sorted(f'say "{n}"' for n in names)


def test_warning_and_reject_lines_are_accepted(influx):
    event = WarningEvent(id="rivertown.gauge-hochtal.flood.1", partner="rivertown", station="gauge-hochtal",
                         hazard="flood", level=Level.WARNING, state="raised", public=True, since_ns=10**18,
                         time_ns=10**18, detector="level_threshold", quantity="water_level", value=3.1,
                         threshold=3.0, score=1.03, expected_at_ns=10**18 + 3600 * 10**9,
                         details=(("trend", "rising"),))
    influx.write(warning_line(event) + "\n" + reject_line("bad_json", None, "line 1\nline 2", "a b", 5))
    row = influx.query_rows('SELECT * FROM "warning"')[0]
    assert (row["state"], row["level"], row["level_name"], row["public"], row["lead_s"]) == (
        "raised", 3, "warning", True, 3600.0)
    assert "Gauge" not in row["message"] and "water_level 3.1 m" in row["message"]
    assert influx.query_rows('SELECT "detail" FROM "reject"')[0]["detail"] == "line 1\nline 2"


def test_ack_line_is_stored_with_partner_role_and_time(influx):
    influx.write(storage.ack_line("rivertown.g.flood.1", "g", "flood", "lacville", "operator", "jean",
                                  300.0, 'vu, "merci"', "sirens", 9_000_000_000))
    row = influx.query_rows(f'SELECT * FROM "{storage.ACK}"')[0]
    assert (row["partner"], row["role"], row["hazard"], row["time"]) == ("lacville", "operator", "flood",
                                                                          9_000_000_000)
    assert (row["id"], row["by"], row["after_s"], row["comment"], row["action"]) == (
        "rivertown.g.flood.1", "jean", 300.0, 'vu, "merci"', "sirens")
