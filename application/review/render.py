"""The review written out: ``report.html`` (self-contained: styles inline, plots as data URIs, no
script), ``report.json`` (indicators, timeline, notes) and ``timeline.csv``.

The HTML has one section per reader: each selected partner in each of its languages, times in its
time zone. Operators' notes (``notes/`` beside the report, see :mod:`application.review.cli`) close
every section as the lessons.

Examples
--------
>>> print(markdown("# Gates\\n- closed *late*\\n- pumps ok\\n\\nNext <time>"))
<h4>Gates</h4>
<ul><li>closed *late*</li>
<li>pumps ok</li></ul>
<p>Next &lt;time&gt;</p>
"""

from __future__ import annotations

import base64
import csv
import html
import io
from datetime import datetime, timezone

import orjson

from early_warning.messages import term
from riverwatch.catalog import Catalog
from riverwatch.units import QUANTITIES

from application.review.i18n import duration, label, number, when, word
from application.review.plots import LEVEL_COLOURS, incident_png
from application.review.timeline import NS, Row, Timeline

CSV_COLUMNS = ("time", "time_ns", "kind", "partner", "station", "hazard", "quantity", "level", "state", "value",
               "threshold", "id", "by", "public", "detail")

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1a1a1a;background:#f4f6f8}
header.top{background:#1f4e79;color:#fff;padding:18px 32px}header.top h1{margin:0 0 4px;font-size:24px}
header.top p{margin:2px 0;font-size:14px;opacity:.9}header.top .small{color:#dfe8f1}nav{padding:8px 32px;background:#e3e9ef;font-size:14px}
nav a{margin-right:16px;color:#1f4e79}section.reader{background:#fff;margin:18px 24px;padding:8px 24px 20px;
border-radius:6px;box-shadow:0 1px 3px rgba(0,0,0,.12)}h2{font-size:20px;border-bottom:2px solid #1f4e79;
padding-bottom:4px}h3{font-size:16px;margin:22px 0 8px;color:#1f4e79}h4{margin:10px 0 4px}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #d5dde5;border-radius:6px;padding:8px 14px;
min-width:140px}.card b{display:block;font-size:22px}.card span{font-size:12px;color:#555}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #e1e6eb;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f0f3f6;font-weight:600}th.num{text-align:right}td.num{text-align:right;white-space:nowrap}
table.timeline td.time{white-space:nowrap}.scroll{overflow-x:auto}.badge{display:inline-block;white-space:nowrap;padding:1px 7px;border-radius:9px;font-size:12px;
color:#fff;background:#607d8b}.late{color:#b00020;font-weight:600}.note{font-size:12px;color:#555}
img.plot{max-width:100%;border:1px solid #e1e6eb}.lessons{background:#fffbea;border-left:4px solid #c9a400;
padding:6px 14px}.small{font-size:12px;color:#555}
"""

#: Detectors whose evidence threshold is a level in the quantity's unit.
LEVEL_DETECTORS = frozenset({"level_threshold", "time_to_threshold", "relative_rise"})  # relative_rise: its mark
_BADGE = {"first_abnormal": "#607d8b", "crossing": "#8d6e63", "peak": "#5d4037", "received": "#1565c0",
          "ack": "#2e7d32", "reminder": "#ad1457"}


def timeline_csv(timeline: Timeline) -> str:
    """The timeline as CSV (UTC times; ``detail`` as JSON).

    >>> tl = Timeline(0, 1, rows=[Row(0, "peak", "p", "g", quantity="water_level", value=3.1)])
    >>> timeline_csv(tl).splitlines()[1]
    '1970-01-01T00:00:00Z,0,peak,p,g,,water_level,,,3.1,,,,true,{}'
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in timeline.rows:
        writer.writerow([iso(r.time_ns), r.time_ns, r.kind, r.partner, r.station, r.hazard, r.quantity, r.level,
                         r.state, "" if r.value is None else r.value, "" if r.threshold is None else r.threshold,
                         r.id, r.by, "true" if r.public else "false", orjson.dumps(r.detail).decode()])
    return buffer.getvalue()


def iso(time_ns: int) -> str:
    """UTC ISO 8601 with a Z, to the second.

    >>> iso(1_795_348_800_000_000_000)
    '2026-11-22T12:00:00Z'
    """
    return datetime.fromtimestamp(time_ns // NS, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def report_json(timeline: Timeline, indicators: dict, meta: dict, notes: list[tuple[str, str]]) -> bytes:
    """``report.json``: the review's parameters, indicators, timeline rows and notes."""
    rows = [{"time": iso(r.time_ns), **{k: getattr(r, k) for k in CSV_COLUMNS[1:] if k != "time"}}
            for r in timeline.rows]
    doc = {**meta, "indicators": indicators, "timeline": rows,
           "notes": [{"file": name, "text": text} for name, text in notes]}
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def markdown(text: str) -> str:
    """Operators' notes: headings (``#``), bullet lists (``-``/``*``) and paragraphs, all escaped."""
    out, paragraph, items = [], [], []

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{' '.join(paragraph)}</p>")
            paragraph.clear()
        if items:
            out.append("<ul>" + "\n".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("#"):
            flush()
            out.append(f"<h4>{html.escape(line.lstrip('#').strip())}</h4>")
        elif line[:2] in ("- ", "* "):
            if paragraph:
                flush()
            items.append(html.escape(line[2:].strip()))
        else:
            if items:
                flush()
            paragraph.append(html.escape(line))
    flush()
    return "\n".join(out)


class HtmlReport:
    """Builds ``report.html`` for the readers ``(partner id, language)`` of ``catalog``."""

    def __init__(self, catalog: Catalog, timeline: Timeline, indicators: dict, notes: list[tuple[str, str]],
                 meta: dict) -> None:
        self.catalog, self.tl, self.ind, self.notes, self.meta = catalog, timeline, indicators, notes, meta
        self.names = {st.id: st.name for st in catalog.stations}
        self.order = {st.id: i for i, st in enumerate(catalog.stations)}  # upstream to downstream, as catalogued
        self.partner_names = {p.id: p.name for p in catalog.partners}
        self._plots: dict[tuple[str, str], str | None] = {}

    def render(self, readers: list[tuple[str, str]]) -> str:
        """The whole page: a header, a link per reader, then each reader's section."""
        first = self.catalog.partner(readers[0][0]) if readers else None
        lang = readers[0][1] if readers else "en"
        tz = first.timezone if first else "UTC"
        links = " ".join(f'<a href="#{p}-{lng}">{esc(self.partner_names.get(p, p))} · {lng.upper()}</a>'
                         for p, lng in readers)
        drill = self.meta.get("drill")
        mark = f'{term("exercise.mark", lang)} {drill} · ' if drill else ""
        head = (f'<header class="top"><h1>{esc(mark)}riverwatch · {esc(label("title", lang))}</h1>'
                f'<p>{esc(label("window", lang))}: {esc(when(self.tl.from_ns, lang, tz))} – '
                f'{esc(when(self.tl.to_ns, lang, tz))}</p>'
                f'<p class="small">{esc(label("generated", lang))}: {esc(self.meta.get("generated", ""))}</p></header>')
        body = "\n".join(self.section(p, lng) for p, lng in readers)
        return (f'<!DOCTYPE html>\n<html lang="{esc(lang)}"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f'<title>riverwatch · {esc(label("title", lang))}</title><style>{CSS}</style></head>'
                f'<body>{head}<nav>{links}</nav>\n{body}\n</body></html>\n')

    def section(self, partner_id: str, lang: str) -> str:
        """One reader's section: summary, plot, indicators, timeline, lessons."""
        partner = self.catalog.partner(partner_id)
        tz = partner.timezone
        L = lambda key: esc(label(key, lang))  # noqa: E731
        parts = [f'<section class="reader" id="{partner_id}-{lang}" lang="{lang}">',
                 f'<h2>{esc(partner.name)} · {lang.upper()} <span class="small">({L("time_zone")}: {esc(tz)})</span></h2>',
                 f'<h3>{L("summary")}</h3>', self.cards(partner_id, lang),
                 f'<h3>{L("plots")}</h3>', self.plot(lang, tz),
                 f'<h3>{L("lead_times")}</h3>', self.lead_table(lang, tz),
                 f'<h3>{L("ack_times")}</h3>', self.ack_table(lang),
                 f'<h3>{L("mismatches")}</h3>', self.mismatch_lists(lang, tz),
                 f'<h3>{L("availability")}</h3>', self.availability_table(lang),
                 f'<h3>{L("delivery")}</h3>', self.delivery_list(lang),
                 f'<h3>{L("timeline")}</h3>', self.timeline_table(lang, tz),
                 f'<h3>{L("lessons")}</h3>', self.lessons(lang), "</section>"]
        return "\n".join(parts)

    def cards(self, partner_id: str, lang: str) -> str:
        leads = [x["lead_crossing_s"] for x in self.ind["lead_times"] if x["lead_crossing_s"] is not None]
        acks = next((a for a in self.ind["ack_times"] if a["partner"] == partner_id), None)
        shares = [a["availability"] for a in self.ind["availability"] if a["availability"] is not None]
        d = self.ind["delivery"]
        cards = [(duration(max(leads)) if leads else "–", label("lead_crossing", lang) + " (max)"),
                 (str(d["warning_events"]), label("warning_events", lang)),
                 (str(d["cap_messages"]), label("cap_messages", lang)),
                 (f'{acks["acknowledged"]} / {acks["concerned"]}' if acks else "–", label("acknowledged", lang)),
                 (duration(acks["median_s"]) if acks else "–", label("ack_times", lang) + " · " + label("median", lang)),
                 (_percent(min(shares)) if shares else "–", label("share", lang) + " (min)")]
        return '<div class="cards">' + "".join(f'<div class="card"><b>{esc(v)}</b><span>{esc(t)}</span></div>'
                                               for v, t in cards) + "</div>"

    def plot(self, lang: str, tz: str) -> str:
        if (lang, tz) not in self._plots:
            png = incident_png(self.tl, self.names, lang, tz)
            self._plots[(lang, tz)] = None if png is None else base64.b64encode(png).decode()
        data = self._plots[(lang, tz)]
        if data is None:
            return f'<p class="note">{esc(label("no_plots" if self.tl.of("crossing") else "none", lang))}</p>'
        return (f'<img class="plot" alt="{esc(label("plots", lang))}" src="data:image/png;base64,{data}">'
                f'<p class="note">{esc(label("plot_legend", lang))}</p>')

    def lead_table(self, lang: str, tz: str) -> str:
        L = lambda key: esc(label(key, lang))  # noqa: E731
        rows = []
        for x in sorted(self.ind["lead_times"], key=lambda x: self.order.get(x["station"], 0)):
            unit = _unit(x["quantity"])
            rows.append(
                f'<tr><td>{esc(self.names.get(x["station"], x["station"]))}</td>'
                f'<td>{esc(word("quantity", x["quantity"], lang))}</td>{_level_cell(x["level"], lang)}'
                f'<td class="time">{esc(when(x["crossing_ns"], lang, tz))}</td>'
                f'<td class="time">{esc(when(x["peak_ns"], lang, tz))} · {esc(number(x["peak_value"], lang, unit))}</td>'
                f'<td class="time">{esc(when(x["warning_ns"], lang, tz))}</td>'
                f'{_lead_cell(x["lead_crossing_s"])}{_lead_cell(x["lead_peak_s"])}</tr>')
        if not rows:
            return f"<p>{L('none')}</p>"
        return (f'<table><tr><th>{L("station")}</th><th>{L("quantity")}</th><th>{L("level")}</th>'
                f'<th>{L("kind.crossing")}</th><th>{L("peak")}</th><th>{L("first_warning")}</th>'
                f'<th>{L("lead_crossing")}</th><th>{L("lead_peak")}</th></tr>' + "".join(rows) + "</table>")

    def ack_table(self, lang: str) -> str:
        rows = [(self.partner_names.get(a["partner"], a["partner"]), a["concerned"], a["acknowledged"], a["pending"],
                 duration(a["median_s"]), duration(a["max_s"]), a["reminders"]) for a in self.ind["ack_times"]]
        return _numeric_table(lang, ("partner", "concerned", "acknowledged", "pending", "median", "longest",
                                     "reminders"), rows)

    def mismatch_lists(self, lang: str, tz: str) -> str:
        out = []
        for key in ("warnings_without_event", "events_without_warning"):
            items = [f'<li>{esc(when(x["time_ns"], lang, tz))} · {esc(self.names.get(x["station"], x["station"]))} · '
                     f'{esc(word("quantity", x["quantity"], lang))} · {esc(word("level", x["level"], lang))}</li>'
                     for x in self.ind[key]]
            out.append(f"<h4>{esc(label(key, lang))}: {len(items)}</h4>" + (f"<ul>{''.join(items)}</ul>" if items else ""))
        return "\n".join(out)

    def availability_table(self, lang: str) -> str:
        rows = [(a["name"], a["received"], a["expected"], _percent(a["availability"]), duration(a["longest_gap_s"]),
                 a["suspect"], a["failed"], a["sensor_notices"])
                for a in sorted(self.ind["availability"], key=lambda a: self.order.get(a["station"], 0))]
        return _numeric_table(lang, ("station", "received", "expected", "share", "longest_gap", "suspect", "failed",
                                     "sensor_notices"), rows)

    def delivery_list(self, lang: str) -> str:
        d = self.ind["delivery"]
        lag = (f'{number(d["write_lag_mean_s"], lang, "s")} / {number(d["write_lag_max_s"], lang, "s")}'
               if d["write_lag_samples"] else "–")
        rejects = ", ".join(f"{k} {v}" for k, v in d["rejects_by_reason"].items())
        delay = (f'{duration(d["publish_delay_median_s"])} / {duration(d["publish_delay_max_s"])}'
                 if d["publish_delay_samples"] else "–")
        items = [("publish_delay", delay), ("write_lag", lag), ("warning_events", str(d["warning_events"])),
                 ("cap_messages", str(d["cap_messages"])), ("acks", str(d["acknowledgements"])),
                 ("reminders", str(d["reminders"])), ("across_border", str(d["received_across_borders"])),
                 ("rejects", f'{d["rejects"]}' + (f" ({rejects})" if rejects else ""))]
        return ("<table>" + "".join(f"<tr><th>{esc(label(k, lang))}</th><td>{esc(v)}</td></tr>" for k, v in items)
                + f'</table><p class="note">{esc(label("write_lag_note", lang))}</p>')

    def timeline_table(self, lang: str, tz: str) -> str:
        L = lambda key: esc(label(key, lang))  # noqa: E731
        rows = "".join(
            f'<tr><td class="time">{esc(when(r.time_ns, lang, tz))}</td>'
            f'<td>{esc(self.partner_names.get(r.partner, r.partner))}</td>'
            f'<td>{esc(self.names.get(r.station, r.station))}</td><td>{self.what(r, lang)}</td>'
            f'<td>{esc(self.details(r, lang))}</td></tr>' for r in self.tl.rows)
        return (f'<table class="timeline"><tr><th>{L("time")}</th><th>{L("partner")}</th><th>{L("station")}</th><th>{L("what")}</th>'
                f'<th>{L("details")}</th></tr>{rows}</table>')

    def what(self, r: Row, lang: str) -> str:
        colour = LEVEL_COLOURS.get(r.level, _BADGE.get(r.kind, "#607d8b")) if r.kind == "warning" else _BADGE[r.kind]
        text = label(f"kind.{r.kind}", lang)
        if r.kind == "warning":
            text = " · ".join(x for x in (word("hazard", r.hazard, lang), word("level", r.level, lang)
                                          if r.level != "none" else "", word("state", r.state, lang)) if x)
        elif r.kind in ("crossing", "peak", "reminder") and r.level:
            text += f" · {word('level', r.level, lang)}"
        return f'<span class="badge" style="background:{colour}">{esc(text)}</span>'

    def details(self, r: Row, lang: str) -> str:
        unit = _unit(r.quantity)
        value = f"{word('quantity', r.quantity, lang)} {number(r.value, lang, unit)}" if r.value is not None else ""
        if r.threshold is not None:  # a rate (rate_of_rise) or a usual level is not in the quantity's unit
            level_like = r.kind != "warning" or r.detail.get("detector") in LEVEL_DETECTORS
            value += f" ({label('threshold', lang)} {number(r.threshold, lang, unit if level_like else '')})"
        if r.kind == "first_abnormal":
            return f"{label('reason.' + r.detail.get('reason', 'qc'), lang)}: {value}".rstrip(": ")
        if r.kind == "warning":
            corroborating = r.detail.get("evidence", {}).get("corroborating") or []
            extra = f" · {', '.join(self.names.get(s, s) for s in corroborating)}" if corroborating else ""
            return f"{r.detail.get('detector', '')}: {value}{extra}"
        if r.kind == "received":
            via = "shared_by" if r.detail.get("via") == "shared" else "propagated_from"
            origin = r.detail.get("from", "")
            return f"{label(via, lang)} {self.partner_names.get(origin, origin)} · {word('level', r.level, lang)}"
        if r.kind == "ack":
            text = f"{label('by', lang)} {r.by} ({r.detail.get('role', '')}), {label('after', lang)} " \
                   f"{duration(r.detail.get('after_s'))}"
            return " · ".join(x for x in (text, r.detail.get("action", ""), r.detail.get("comment", "")) if x)
        if r.kind == "reminder":
            return f"{label('after', lang)} {duration(r.detail.get('after_s'))}"
        return value

    def lessons(self, lang: str) -> str:
        if not self.notes:
            return f'<p class="note">{esc(label("no_notes", lang))}</p>'
        return "\n".join(f'<div class="lessons"><p class="small">{esc(label("notes_from", lang))}: {esc(name)}</p>'
                         f"{markdown(text)}</div>" for name, text in self.notes)


def esc(text: object) -> str:
    """HTML-escape ``text``."""
    return html.escape(str(text))


def _unit(quantity: str) -> str:
    return QUANTITIES[quantity].unit if quantity in QUANTITIES else ""


def _numeric_table(lang: str, heads: tuple[str, ...], rows: list[tuple]) -> str:
    """A table whose first column names a thing and the others are numbers (right-aligned)."""
    head = f"<th>{esc(label(heads[0], lang))}</th>" + "".join(f'<th class="num">{esc(label(h, lang))}</th>'
                                                             for h in heads[1:])
    body = "".join(f"<tr><td>{esc(row[0])}</td>" + "".join(f'<td class="num">{esc(v)}</td>' for v in row[1:])
                   + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.0f} %"


def _level_cell(level: str, lang: str) -> str:
    return f'<td><span class="badge" style="background:{LEVEL_COLOURS.get(level, "#607d8b")}">' \
           f'{esc(word("level", level, lang))}</span></td>'


def _lead_cell(seconds: float | None) -> str:
    late = ' late' if seconds is not None and seconds < 0 else ""
    return f'<td class="num{late}">{esc(duration(seconds))}</td>'
