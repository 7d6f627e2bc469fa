"""report.html, report.json and timeline.csv from a hand-built timeline (pure rendering, no services)."""

from __future__ import annotations

import csv
import io
import json

from application.review.indicators import all_indicators
from application.review.render import HtmlReport, report_json, timeline_csv
from riverwatch.catalog import load_catalog
from riverwatch.settings import REPO_ROOT

from tests.review.test_indicators import timeline  # noqa: F401 (fixture)

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
META = {"from": "2026-11-22T12:00:00Z", "to": "2026-11-22T16:00:00Z", "generated": "2026-11-23T08:00:00Z"}


def test_csv_and_json_hold_the_same_rows(timeline):
    rows = list(csv.DictReader(io.StringIO(timeline_csv(timeline))))
    doc = json.loads(report_json(timeline, all_indicators(timeline), META, [("a.md", "- x")]))
    assert len(rows) == len(doc["timeline"]) == len(timeline.rows)
    assert [r["kind"] for r in rows] == [r["kind"] for r in doc["timeline"]]
    assert rows[0]["time"] == "2026-11-22T12:00:00Z" and json.loads(rows[-1]["detail"]) == timeline.rows[-1].detail
    assert doc["notes"] == [{"file": "a.md", "text": "- x"}] and doc["indicators"]["delivery"]["cap_messages"] == 5


def test_html_sections_are_in_the_readers_languages_and_time_zones(timeline):
    page = HtmlReport(CATALOG, timeline, all_indicators(timeline), [("n.md", "# Pegel\n- <b>zu spät</b>")],
                      META).render([("rivertown", "de"), ("lacville", "fr")])
    de, fr = page.split('id="rivertown-de"')[1].split('id="lacville-fr"')
    assert "Vorwarnzeit je Station" in de and "22. Nov. 2026, 13:40 MEZ" in de and "40 min" in de
    assert "Délai d’anticipation par station" in fr and "Ereignisse ohne Warnung" not in fr
    assert "<h4>Pegel</h4>" in page and "&lt;b&gt;zu spät&lt;/b&gt;" in page
    assert "<script" not in page and 'src="http' not in page  # self-contained


def test_html_without_notes_says_how_to_add_them(timeline):
    page = HtmlReport(CATALOG, timeline, all_indicators(timeline), [], META).render([("lacville", "en")])
    assert "add them with --notes FILE" in page and page.count('class="reader"') == 1
