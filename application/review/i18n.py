"""Words of the after-action review in the partners' languages.

The texts are ``review.<label>`` entries of the warnings' message catalogs
(``early_warning/locales/<lang>.po``); :data:`LABELS` lists every label the report uses and
``tests/review/test_i18n.py`` fails while a catalog lacks one. Hazards, levels, states and
quantities reuse the catalogs' existing words (:func:`early_warning.messages.term`).

Examples
--------
>>> label("lessons", "de"), label("lessons", "fr")
('Lehren', 'Enseignements')
>>> duration(-4500.0), duration(59.0), duration(None)
('−1 h 15 min', '59 s', '–')
"""

from __future__ import annotations

from early_warning.messages import FALLBACK, format_number, format_time, load_catalogs, term

#: Every ``review.<label>`` the report renders.
LABELS = (
    "title", "window", "generated", "partner", "time_zone", "contents", "summary", "plots", "timeline",
    "indicators", "lead_times", "lead_crossing", "lead_peak", "first_warning", "kind.first_abnormal",
    "kind.crossing", "kind.peak", "kind.warning", "kind.received", "kind.ack", "kind.reminder", "ack_times",
    "concerned", "acknowledged", "pending", "median", "longest", "reminders", "mismatches",
    "warnings_without_event", "events_without_warning", "none", "availability", "received", "expected", "share",
    "longest_gap", "suspect", "failed", "sensor_notices", "delivery", "publish_delay", "write_lag", "write_lag_note",
    "warning_events", "cap_messages", "rejects", "acks", "across_border", "time", "what", "station", "details",
    "level", "quantity", "value", "threshold", "peak", "shared_by", "propagated_from", "by", "after", "reason",
    "reason.qc", "reason.threshold", "reason.detector", "lessons", "no_notes", "no_plots", "notes_from",
    "plot_legend",
)


def label(key: str, lang: str) -> str:
    """The review's word ``key`` in ``lang`` (English when the language has no catalog)."""
    catalogs = load_catalogs()
    catalog = catalogs.get(lang, catalogs[FALLBACK])
    return catalog.get(f"review.{key}") or catalogs[FALLBACK].get(f"review.{key}") or key


def word(kind: str, name: str, lang: str) -> str:
    """A catalog word of the warnings (``hazard``, ``level``, ``state``, ``quantity``), capitalised, or ``name``.

    >>> word("level", "watch", "fr"), word("quantity", "no_such", "de")
    ('Vigilance', 'no_such')
    """
    if not name:
        return ""
    key = f"{kind}.{name}"
    text = term(key, lang) if key in load_catalogs()[FALLBACK] else name
    return text[:1].upper() + text[1:] if key in load_catalogs()[FALLBACK] else name


def duration(seconds: float | None) -> str:
    """A duration for people: ``1 h 15 min``, ``12 min``, ``59 s`` (signed when negative)."""
    if seconds is None:
        return "–"
    sign = "−" if seconds < 0 else ""
    s = abs(float(seconds))
    if s < 60:
        return f"{sign}{s:.0f} s"
    minutes = round(s / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours} h {minutes:02d} min" if hours else f"{sign}{minutes} min"


def when(time_ns: int | None, lang: str, tz: str) -> str:
    """A point in time in the language and time zone of the reader."""
    return "–" if time_ns is None else format_time(int(time_ns), lang, tz)


def number(value: float | None, lang: str, unit: str = "") -> str:
    """A number as the language writes it (decimal comma in de/fr)."""
    return format_number(value, lang, unit)
