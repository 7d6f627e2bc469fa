"""SenML (RFC 8428) resolution: a pack's records with their base fields applied.

riverwatch reads SenML packs as the alternative payload of the wire contract
(:func:`riverwatch.contract.decode_senml`); this module knows only the RFC's rules, not the
contract's: base fields (``bn``, ``bt``, ``bu``, ``bv``, ``bs``, ``bver``), must-understand
fields (names ending in ``_``, section 4.4) and resolved records (section 4.6).

Examples
--------
>>> resolve_senml([{"bn": "urn:dev:ow:10e2073a01080063:", "n": "voltage", "u": "V", "v": 120.1},
...                {"n": "current", "u": "A", "v": 1.2}])  # RFC 8428 section 5.1.2
[{'n': 'urn:dev:ow:10e2073a01080063:voltage', 't': 0.0, 'u': 'V', 'v': 120.1}, \
{'n': 'urn:dev:ow:10e2073a01080063:current', 't': 0.0, 'u': 'A', 'v': 1.2}]
"""

from __future__ import annotations

from riverwatch.errors import DecodeError

#: The SenML version riverwatch reads (RFC 8428: 10, the default of ``bver``); newer packs are refused.
SENML_VERSION = 10
#: SenML base fields that are numbers (RFC 8428 section 4.1) and the regular field each is added to.
_NUMERIC_BASE = {"bt": "t", "bv": "v", "bs": "s"}


def resolve_senml(pack: list) -> list[dict]:
    """The resolved records of a SenML pack (RFC 8428 section 4.6): base fields applied, removed.

    ``n`` = ``bn`` + ``n``; ``t`` = ``bt`` + ``t``; ``u`` defaults to ``bu``; ``v`` = ``bv`` + ``v``
    and ``s`` = ``bs`` + ``s`` when the record has them. Base fields apply to their record and the
    ones after it until changed. Other fields (``vs``, ``vb``, ``vd``, ``ut``, unknown ones) are
    copied; times stay as sent (relative when below 2^28).

    >>> resolve_senml([{"bn": "dev/", "bt": 100, "bu": "m", "bv": 2, "n": "a", "v": 1},
    ...                {"n": "b", "t": 5, "v": 3, "u": "cm"}])
    [{'n': 'dev/a', 't': 100.0, 'u': 'm', 'v': 3.0}, {'n': 'dev/b', 't': 105.0, 'u': 'cm', 'v': 5.0}]

    Raises
    ------
    DecodeError
        ``must_understand`` for a field ending in ``_`` (section 4.4) or a ``bver`` above
        :data:`SENML_VERSION`; ``bad_schema`` for base fields of the wrong type.
    """
    base: dict = {"bn": "", "bt": 0.0, "bu": None, "bv": 0.0, "bs": 0.0}
    resolved = []
    for record in pack:
        if not isinstance(record, dict):
            raise DecodeError("bad_schema", "every SenML record must be an object")
        _refuse_unknown_must_understand(record)
        base.update((key, record[key]) for key in base if key in record)
        if not isinstance(base["bn"], str) or not (base["bu"] is None or isinstance(base["bu"], str)):
            raise DecodeError("bad_schema", "bn and bu must be text")
        out = {key: value for key, value in record.items() if key not in base and key != "bver"}
        out["n"] = base["bn"] + str(record.get("n", ""))
        for base_key, key in _NUMERIC_BASE.items():
            if not _is_number(base[base_key]):
                raise DecodeError("bad_schema" if key != "t" else "bad_timestamp", f"{base_key} must be a number")
            if key in out or key == "t":
                if not _is_number(out.get(key, 0)):
                    raise DecodeError("bad_timestamp" if key == "t" else "not_finite", f"{key} must be a number")
                out[key] = float(base[base_key]) + float(out.get(key, 0))
        if "u" not in out and base["bu"] is not None:
            out["u"] = base["bu"]
        resolved.append(dict(sorted(out.items())))
    return resolved


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _refuse_unknown_must_understand(record: dict) -> None:
    """``must_understand`` for a field named ``..._`` (RFC 8428 section 4.4) or a too new ``bver``."""
    for key in record:
        if isinstance(key, str) and key.endswith("_"):
            raise DecodeError("must_understand", f"SenML field {key[:40]!r} must be understood (its name ends "
                                                 "in '_', RFC 8428 section 4.4) and riverwatch does not know it")
    if "bver" in record:
        version = record["bver"]
        if not _is_number(version):
            raise DecodeError("bad_schema", "bver must be a number")
        if version > SENML_VERSION:
            raise DecodeError("must_understand", f"SenML version {version} is newer than {SENML_VERSION}, "
                                                 "the one riverwatch reads")
