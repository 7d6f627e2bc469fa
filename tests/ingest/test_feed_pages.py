"""The alert pages as a browser shows them: real headless Chromium against the real feed server.

Set ``RIVERWATCH_SCREENSHOTS=1`` to also write the screenshots to ``docs/img/`` (alert_page_de.png,
alert_page_fr.png, alert_index_de.png).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from riverwatch.catalog import load_catalog
from riverwatch.model import Level, WarningEvent
from riverwatch.settings import REPO_ROOT

from ingest.alerts import AlertRenderer
from ingest.feed import AlertFeed, FeedServer
from ingest.pages import LEVEL_COLOURS

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
T0 = 1_795_348_800_000_000_000  # 2026-11-22 12:00 UTC
MIN = 60_000_000_000
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (make bootstrap installs it)")
        pytest.skip("chromium is not installed")
    return CHROMIUM


def chromium(browser: str, profile: Path, url: str, *args: str) -> bytes:
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               f"--user-data-dir={profile}", *args, url]
    done = subprocess.run(command, capture_output=True, timeout=120, check=True)
    return done.stdout


def screenshot(browser: str, tmp_path: Path, url: str, name: str, size: str = "1100,900") -> Image.Image:
    path = tmp_path / name
    chromium(browser, tmp_path / "profile", url, f"--window-size={size}", f"--screenshot={path}")
    if os.environ.get("RIVERWATCH_SCREENSHOTS"):
        shutil.copyfile(path, REPO_ROOT / "docs" / "img" / name)
    return Image.open(path).convert("RGB")


def flood(station: str, partner: str, state: str, level: Level, minutes: int, value: float, threshold: float | None,
          **extra) -> WarningEvent:
    return WarningEvent(id=f"{partner}.{station}.flood.{T0}", partner=partner, station=station, hazard="flood",
                        level=level, state=state, public=True, since_ns=T0, time_ns=T0 + minutes * MIN,
                        detector=extra.pop("detector", "level_threshold"), quantity="water_level", value=value,
                        threshold=threshold, score=1.1, **extra)


@pytest.fixture
def server():
    feed = AlertFeed()
    with FeedServer(feed, "127.0.0.1", 0) as served:
        renderer = AlertRenderer(CATALOG, feed)
        renderer.render(flood("gauge-hochtal", "rivertown", "escalated", Level.WARNING, 40, 3.12, 3.0))
        renderer.render(flood("gauge-lacville", "lacville", "raised", Level.WATCH, 45, 2.2, 2.9,
                              detector="propagation", expected_at_ns=T0 + 200 * MIN, message_key="flood.upstream",
                              details=(("upstream_name", "Hochtal gauge"),)))
        renderer.render(flood("gauge-grenzbruecke", "rivertown", "raised", Level.ADVISORY, 30, 2.3, 2.2))
        renderer.render(WarningEvent(
            id=f"rivertown.wq-hochtal.water_quality.{T0}", partner="rivertown", station="wq-hochtal",
            hazard="water_quality", level=Level.NONE, state="cleared", public=True, since_ns=T0 - 90 * MIN,
            time_ns=T0 - 5 * MIN, detector="level_threshold", quantity="turbidity", value=12.0, threshold=None,
            score=0.2))
        yield served


def banner_colour(image: Image.Image) -> tuple[int, int, int]:
    return image.getpixel((8, 8))


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def test_alert_page_in_chromium_is_coloured_by_level_local_and_localised(browser, server, tmp_path):
    url = f"{server.url}/alerts/rivertown.gauge-hochtal.flood.{T0}.html?lang=de"
    image = screenshot(browser, tmp_path, url, "alert_page_de.png")
    assert banner_colour(image) == hex_rgb(LEVEL_COLOURS["warning"][0])
    dom = chromium(browser, tmp_path / "profile", url, "--dump-dom").decode()
    assert '<html lang="de">' in dom and "Warnstufe" in dom and "Warnung" in dom
    assert "22. Nov. 2026, 13:40 MEZ" in dom and "47.91200° N, 7.86200° E" in dom
    assert dom.count("<circle") == 3  # the map: the three gauges of the Grenzbach


def test_forecast_page_in_french_in_chromium(browser, server, tmp_path):
    url = f"{server.url}/alerts/lacville.gauge-lacville.flood.{T0}.html?lang=fr"
    image = screenshot(browser, tmp_path, url, "alert_page_fr.png")
    assert banner_colour(image) == hex_rgb(LEVEL_COLOURS["watch"][0])
    dom = chromium(browser, tmp_path / "profile", url, "--dump-dom").decode()
    assert "Dépassement attendu" in dom and "Niveau d’alerte" in dom


def test_index_in_chromium_lists_every_warning_with_its_colour(browser, server, tmp_path):
    image = screenshot(browser, tmp_path, f"{server.url}/?lang=de", "alert_index_de.png", "1100,700")
    assert banner_colour(image) != (255, 255, 255)
    dom = chromium(browser, tmp_path / "profile", f"{server.url}/?lang=de", "--dump-dom").decode()
    badges = [part.split('"')[0] for part in dom.split('class="badge ')[1:]]
    assert badges == ["watch", "warning", "advisory", "cleared"]  # newest first, each with its level colour
    assert "Aktive Warnungen" in dom and "Entwarnung" in dom
