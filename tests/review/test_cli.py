"""The ``review`` command's arguments and the archive of operators' notes (no services)."""

from __future__ import annotations

import argparse

import pytest

from application.cli import build_parser
from application.review.cli import archive_notes, parse_when, readers
from riverwatch.catalog import load_catalog
from riverwatch.errors import ConfigError
from riverwatch.settings import REPO_ROOT

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")


def test_the_command_is_registered_with_its_options():
    args = build_parser().parse_args(["review", "--from", "2026-11-22T06:00Z", "--to", "2026-11-22T18:00+01:00",
                                      "--partner", "lacville", "--out", "r", "--notes", "n.md"])
    assert args.command == "review" and args.partner == "lacville"
    assert (args.to_ns - args.from_ns) / 1e9 == 11 * 3600


def test_times_are_absolute_with_an_offset_or_relative_to_now():
    assert parse_when("now-1d", now_s=86400.0) == 0
    with pytest.raises(argparse.ArgumentTypeError, match="no UTC offset"):
        parse_when("2026-11-22T06:00")
    with pytest.raises(argparse.ArgumentTypeError):
        parse_when("yesterday")


def test_readers_are_every_partner_language_or_one_partners():
    assert readers(CATALOG, None) == [("rivertown", "de"), ("rivertown", "en"), ("lacville", "fr"), ("lacville", "en")]
    assert readers(CATALOG, "lacville") == [("lacville", "fr"), ("lacville", "en")]


def test_notes_are_archived_and_every_archived_note_is_merged(tmp_path):
    first, second = tmp_path / "a.md", tmp_path / "b.txt"
    first.write_text("one")
    second.write_text("two")
    assert archive_notes(tmp_path / "out", None) == []
    archive_notes(tmp_path / "out", first, now_s=0.0)
    merged = archive_notes(tmp_path / "out", second, now_s=60.0)
    assert merged == [("19700101T000000Z-a.md", "one"), ("19700101T000100Z-b.txt", "two")]
    with pytest.raises(ConfigError, match="--notes"):
        archive_notes(tmp_path / "out", tmp_path / "missing.md")
