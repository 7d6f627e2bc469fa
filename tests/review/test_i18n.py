"""Every word of the review exists in every partner language's catalog: a missing translation fails here."""

from __future__ import annotations

import pytest

from application.review.i18n import LABELS, label
from early_warning.messages import load_catalogs
from riverwatch.catalog import load_catalog
from riverwatch.settings import REPO_ROOT

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
LANGS = sorted({"en", "de", "fr"} | {lang for p in CATALOG.partners for lang in p.languages})
#: Words that are the same in English and the language.
SAME = {"de": {"partner", "station", "median", "details"}, "fr": {"station", "notes_from"}}


@pytest.mark.parametrize("lang", LANGS)
def test_every_review_label_is_translated(lang):
    catalog = load_catalogs()[lang]
    missing = [key for key in LABELS if not catalog.get(f"review.{key}")]
    assert not missing, f"{lang}.po lacks review labels {missing}"


@pytest.mark.parametrize("lang", [lang for lang in LANGS if lang != "en"])
def test_no_english_left_in_a_translation(lang):
    english = [key for key in LABELS if label(key, lang) == label(key, "en") and key not in SAME.get(lang, set())]
    assert not english, f"{lang}.po: review labels still in English: {english}"


def test_catalogs_hold_no_review_label_nobody_renders():
    for lang in LANGS:
        stale = {k for k in load_catalogs()[lang] if k.startswith("review.")} - {f"review.{k}" for k in LABELS}
        assert not stale, f"{lang}.po has unused review labels {sorted(stale)}"


def test_review_labels_have_no_placeholders():
    for lang in LANGS:
        for key in LABELS:
            assert "{" not in label(key, lang), f"{lang}.po review.{key}"
