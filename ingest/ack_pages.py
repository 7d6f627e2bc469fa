"""Acknowledging a warning on its page: the form (no script needed) and the answer page.

The form posts ``application/x-www-form-urlencoded`` to ``/alerts/<id>/ack`` with the partner's
token in a password field; the feed server turns it into the MQTT acknowledgement payload
(:func:`form_to_ack`) and answers with :func:`ack_result_page`, in the page's language.

>>> form_to_ack({"by": ["anna"], "comment": [" gates closed "], "action": [""]})
b'{"by":"anna","role":"operator","comment":"gates closed"}'
"""

from __future__ import annotations

import html
from urllib.parse import quote

import orjson

from early_warning.messages import format_time, term
from ingest.pages import _document

#: Form fields copied into the acknowledgement payload when not empty.
_TEXT_FIELDS = ("comment", "action")


def ack_form(warning_id: str, base_url: str, lang: str) -> str:
    """The acknowledge form for an open warning's page (HTML fragment)."""
    esc = html.escape
    action = f"{base_url}/alerts/{quote(warning_id, safe='._-')}/ack"
    field = (lambda name, key, kind="text", extra="":
             f'<label for="ack-{name}">{esc(term(key, lang))}</label>'
             f'<input id="ack-{name}" name="{name}" type="{kind}"{extra}>')
    return (f'<form class="ack" method="post" action="{esc(action)}">'
            f'<h2>{esc(term("page.ack_title", lang))}</h2><p class="hint">{esc(term("page.ack_hint", lang))}</p>'
            + field("token", "page.ack_token", "password", ' required autocomplete="current-password"')
            + field("by", "page.ack_by", "text", r' required maxlength="64" pattern="[A-Za-z0-9][A-Za-z0-9_.\-]*"')
            + field("action", "page.ack_action", "text", ' maxlength="500"')
            + f'<label for="ack-comment">{esc(term("page.ack_comment", lang))}</label>'
            f'<textarea id="ack-comment" name="comment" rows="2" maxlength="500"></textarea>'
            f'<input type="hidden" name="lang" value="{esc(lang)}">'
            f'<button type="submit">{esc(term("page.ack_submit", lang))}</button></form>')


def form_to_ack(fields: dict[str, list[str]]) -> bytes:
    """The MQTT acknowledgement payload of a posted form (operators' role; empty texts left out)."""
    doc = {"by": fields.get("by", [""])[0].strip(), "role": "operator"}
    for name in _TEXT_FIELDS:
        value = fields.get(name, [""])[0].strip()
        if value:
            doc[name] = value
    return orjson.dumps(doc)


def ack_result_page(status: int, answer: dict, warning_id: str, base_url: str, lang: str,
                    zone: str = "UTC") -> bytes:
    """The page answering a posted form: acknowledged by whom and after how long, or why not."""
    esc = html.escape
    back = f"{base_url}/alerts/{quote(warning_id, safe='._-')}.html?lang={quote(lang)}"
    if status == 200:
        minutes = max(0, round(answer["after_s"] / 60))
        title = term("page.ack_done", lang)
        detail = (f'{answer["by"]} ({answer["partner"]}) · {term("page.ack_after", lang)} {minutes} min · '
                  f'{format_time(int(answer["time_s"] * 1e9), lang, zone)}')
        key = "cleared"
    else:
        title = term("page.ack_refused", lang)
        detail = term(f"ack.{answer.get('reason', 'busy')}", lang)
        key = "warning"
    body = (f'<header class="banner {key}"><div class="inner"><h1>{esc(title)}</h1></div></header>'
            f'<main><p class="result">{esc(detail)}</p>'
            f'<p><a href="{esc(back)}">{esc(term("page.ack_back", lang))}</a></p></main>')
    return _document(lang, title, body)
