"""An InfluxQL query type for grafana-foundation-sdk, which ships none for InfluxDB.

Follows the SDK's "custom query type" recipe: a :class:`InfluxQLQuery` model (a dataquery variant
with ``to_json``/``from_json``), a :class:`InfluxQL` builder implementing the SDK's builder
interface, and :func:`register` to let ``Dashboard.from_json`` parse targets back.

Examples
--------
>>> q = InfluxQL('SELECT mean("value") FROM "reading" WHERE $timeFilter').ref_id("A").build()
>>> sorted(q.to_json())
['datasource', 'query', 'rawQuery', 'refId', 'resultFormat']
>>> q.to_json()["datasource"]
{'type': 'influxdb', 'uid': 'riverwatch-influxdb'}
>>> InfluxQLQuery.from_json(q.to_json()).to_json() == q.to_json()
True
"""

from __future__ import annotations

from typing import Any, Literal, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import plugins as cogplugins
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.dashboard import DataSourceRef

#: Grafana's plugin id of the InfluxDB datasource.
DATASOURCE_TYPE = "influxdb"
#: The fixed uid of the riverwatch datasource (provisioned and published under this uid).
DATASOURCE_UID = "riverwatch-influxdb"

ResultFormat = Literal["time_series", "table", "logs"]


def datasource_ref() -> DataSourceRef:
    """The riverwatch InfluxDB datasource reference used by every panel and query."""
    return DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)


class InfluxQLQuery(cogvariants.Dataquery):
    """A raw InfluxQL target: ``refId``, datasource, ``query``, ``rawQuery: true``, ``resultFormat``.

    ``alias`` names time series (``$tag_station``); the ``*_column`` fields are read by Grafana
    when the query feeds an annotation (``fromAnnotations``).
    """

    def __init__(self, query: str = "", ref_id: str | None = None, hide: bool | None = None,
                 result_format: ResultFormat = "time_series", alias: str | None = None,
                 datasource: DataSourceRef | None = None, from_annotations: bool | None = None,
                 text_column: str | None = None, title_column: str | None = None,
                 tags_column: str | None = None) -> None:
        self.query = query
        self.ref_id = ref_id
        self.hide = hide
        self.result_format = result_format
        self.alias = alias
        self.datasource = datasource if datasource is not None else datasource_ref()
        self.from_annotations = from_annotations
        self.text_column = text_column
        self.title_column = title_column
        self.tags_column = tags_column

    _OPTIONAL = (("ref_id", "refId"), ("hide", "hide"), ("alias", "alias"),
                 ("from_annotations", "fromAnnotations"), ("text_column", "textColumn"),
                 ("title_column", "titleColumn"), ("tags_column", "tagsColumn"))

    def to_json(self) -> dict[str, object]:
        """The target as Grafana stores it in dashboard JSON."""
        payload: dict[str, object] = {
            "datasource": self.datasource.to_json(),
            "query": self.query,
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        for attr, key in self._OPTIONAL:
            value = getattr(self, attr)
            if value is not None:
                payload[key] = value
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """Parse a target written by :meth:`to_json` (or by Grafana's raw InfluxQL editor)."""
        args: dict[str, Any] = {"query": data.get("query", ""),
                                "result_format": data.get("resultFormat", "time_series")}
        if "datasource" in data:
            args["datasource"] = DataSourceRef.from_json(data["datasource"])
        for attr, key in cls._OPTIONAL:
            if key in data:
                args[attr] = data[key]
        return cls(**args)


class InfluxQL(cogbuilder.Builder[cogvariants.Dataquery]):
    """Builder of :class:`InfluxQLQuery`, used like the SDK's own query builders.

    Parameters
    ----------
    query
        Raw InfluxQL; may use Grafana's ``$timeFilter``, ``$__interval`` and template variables.
    """

    def __init__(self, query: str) -> None:
        self._internal = InfluxQLQuery(query=query)

    def build(self) -> InfluxQLQuery:
        """Builds the object."""
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        """Set the query's refId (``A``, ``B``, ...)."""
        self._internal.ref_id = ref_id
        return self

    def hide(self, hide: bool) -> Self:
        """Hide the query's result from the visualisation."""
        self._internal.hide = hide
        return self

    def table(self) -> Self:
        """Return rows (``resultFormat: table``) instead of time series."""
        self._internal.result_format = "table"
        return self

    def time_series(self) -> Self:
        """Return time series (``resultFormat: time_series``, the default)."""
        self._internal.result_format = "time_series"
        return self

    def alias(self, alias: str) -> Self:
        """Series name pattern, e.g. ``$tag_station``."""
        self._internal.alias = alias
        return self

    def annotation_columns(self, text: str, title: str | None = None, tags: str | None = None) -> Self:
        """Mark the query as an annotation source and name its text/title/tags columns."""
        self._internal.from_annotations = True
        self._internal.text_column = text
        self._internal.title_column = title
        self._internal.tags_column = tags
        return self


def register() -> None:
    """Register the SDK's panel/query plugins and this InfluxDB variant for ``from_json``."""
    cogplugins.register_default_plugins()
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(identifier=DATASOURCE_TYPE, from_json_hook=InfluxQLQuery.from_json))
