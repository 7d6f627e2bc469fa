"""InfluxDB line protocol built directly with f-strings (about 8x faster than ``Point``).

Escaping follows the line-protocol rules exactly as ``influxdb_client``'s ``Point`` applies them
(the tests compare both on tricky names): measurements escape comma, space and control
characters; tag keys, tag values and field keys also escape ``=``; string field values escape
``"`` and ``\\``. Tag values that come from the catalog are checked names and need no escaping, so
the hot path uses :func:`tag` only where text comes from outside.

Examples
--------
>>> line("reject", {"reason": "bad json", "partner": "p,1"}, {"count": 1, "detail": 'say "hi"'}, 5)
'reject,reason=bad\\\\ json,partner=p\\\\,1 count=1i,detail="say \\\\"hi\\\\"" 5'
>>> fmt(2.5), fmt(3), fmt(True), fmt("x")
('2.5', '3i', 'true', '"x"')
"""

from __future__ import annotations

from collections.abc import Mapping

_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_STRING = str.maketrans({'"': r"\"", "\\": r"\\"})


def measurement(name: str) -> str:
    """Escape a measurement name."""
    return name.translate(_MEASUREMENT)


def key(name: str) -> str:
    """Escape a tag key or field key."""
    return name.translate(_KEY)


def tag(value: str) -> str:
    """Escape a tag value (a trailing backslash gets a space, as in Point)."""
    out = value.translate(_KEY)
    return out + " " if out.endswith("\\") else out


def string(value: str) -> str:
    """A string field value, quoted and escaped."""
    return '"' + value.translate(_STRING) + '"'


def fmt(value: object) -> str:
    """Format a field value: float as repr, int with ``i``, bool as true/false, text quoted."""
    kind = type(value)
    if kind is float:
        return repr(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return f"{value}i"
    if kind is str:
        return string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{int(value)}i"
    if isinstance(value, float):
        return repr(float(value))
    raise TypeError(f"field value of type {kind.__name__} is not supported")


def line(name: str, tags: Mapping[str, str], fields: Mapping[str, object], time_ns: int) -> str:
    """One line of line protocol (general, escaped; the hot path writes its lines inline).

    Fields whose value is None are left out; tags keep their given order.
    """
    tag_text = "".join(f",{key(k)}={tag(v)}" for k, v in tags.items() if v != "")
    field_text = ",".join(f"{key(k)}={fmt(v)}" for k, v in fields.items() if v is not None)
    return f"{measurement(name)}{tag_text} {field_text} {int(time_ns)}"
