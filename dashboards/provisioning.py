"""Everything Grafana needs, as files: the dashboards and the provisioning YAML.

``write_all(settings, out)`` writes::

    out/dashboards/Riverwatch/<uid>.json        shared dashboards (Overview, Station, Detectors, Pipeline)
    out/dashboards/<Partner name>/<uid>.json    the same four per partner and language
    out/provisioning/datasources/riverwatch.yaml
    out/provisioning/dashboards/riverwatch.yaml  (file provider, folders from the directory names)
    out/provisioning/alerting/riverwatch-rules.yaml
    out/provisioning/alerting/riverwatch-contacts.yaml  (contact points and the notification policy)

Mount ``out/dashboards`` at :data:`DASHBOARDS_PATH` and ``out/provisioning`` at
``/etc/grafana/provisioning`` in the Grafana container. The InfluxDB token is not written: the
datasource reads it from ``$INFLUX_TOKEN`` (Grafana's environment interpolation).

Contact points: ``riverwatch-operators`` (email to ``$OPERATOR_EMAIL``, from Grafana's
environment) gets every alert; each partner with ``alert_emails`` or ``alert_webhook`` in the
catalog gets its own contact point (email and/or webhook) and a route for the alerts labelled
with its id (``partner``), so a city hears about its own stations.

Examples
--------
>>> from riverwatch.settings import Settings
>>> ds = datasource(Settings(influx={"url": "http://influxdb:8086", "database": "rw"}))
>>> ds["jsonData"]["dbName"], ds["secureJsonData"]["httpHeaderValue1"]
('rw', 'Token ${INFLUX_TOKEN}')
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import yaml

from grafana_foundation_sdk.models.dashboard import DataSourceRef

from riverwatch.catalog import Catalog, load_catalog
from riverwatch.settings import Settings
from riverwatch.sharing import partner_database, password_variable, reader_account, token_variable
from dashboards.alerting import ORG_ID, alert_rules, rule_file
from dashboards.audience import SHARED, Audience, audiences
from dashboards.build import to_json
from dashboards.detectors_board import detectors_board
from dashboards.influxql import DATASOURCE_TYPE, DATASOURCE_UID
from dashboards.overview import overview
from dashboards.pipeline_health import pipeline_health
from dashboards.station import station

#: Where the dashboards directory is mounted inside the Grafana container.
DASHBOARDS_PATH = "/var/lib/grafana/dashboards/riverwatch"
DATASOURCE_NAME = "Riverwatch InfluxDB"
SHARED_FOLDER = ("rw-shared", "Riverwatch")
#: The contact point that hears every alert; its address comes from Grafana's environment.
OPERATORS = "riverwatch-operators"
OPERATOR_EMAIL_ENV = "OPERATOR_EMAIL"


@dataclass(frozen=True, slots=True)
class Folder:
    """A Grafana folder: fixed uid and title (also the directory name when provisioning)."""

    uid: str
    title: str


@dataclass(frozen=True, slots=True)
class Board:
    """One dashboard, the folder it belongs in and the partner whose view it reads (None: the shared set)."""

    folder: Folder
    model: object
    partner: str | None = None

    @property
    def uid(self) -> str:
        """The dashboard's uid."""
        return self.model.uid  # type: ignore[attr-defined]


def shared_folder() -> Folder:
    """The folder every partner sees."""
    return Folder(*SHARED_FOLDER)


def partner_folder(catalog: Catalog, partner_id: str) -> Folder:
    """A partner's own folder."""
    return Folder(f"rw-{partner_id}", catalog.partner(partner_id).name)


def folders(catalog: Catalog) -> list[Folder]:
    """The shared folder, then one per partner (catalog order)."""
    return [shared_folder()] + [partner_folder(catalog, p.id) for p in catalog.partners]


#: Grafana folder permission levels (HTTP API values).
VIEW, EDIT = 1, 2


def partner_team(partner_id: str) -> str:
    """The Grafana team of one partner's staff."""
    return f"riverwatch-{partner_id}"


def folder_permissions(catalog: Catalog) -> dict[str, list[dict]]:
    """Per folder uid, who may use it: every partner team views the shared folder, each team
    edits its own partner folder, and no one else (org roles) sees a partner's folder.

    Publishing replaces a folder's permissions with these (Grafana admins keep full access).

    >>> from riverwatch.catalog import Partner
    >>> perms = folder_permissions(Catalog(partners=[Partner(id="a", name="A", country="DE"),
    ...                                              Partner(id="b", name="B", country="FR")], stations=[]))
    >>> perms["rw-a"], [item["team"] for item in perms["rw-shared"]]
    ([{'team': 'riverwatch-a', 'permission': 2}], ['riverwatch-a', 'riverwatch-b'])
    """
    teams = [partner_team(p.id) for p in catalog.partners]
    result = {shared_folder().uid: [{"team": team, "permission": VIEW} for team in teams]}
    for p in catalog.partners:
        result[partner_folder(catalog, p.id).uid] = [{"team": partner_team(p.id), "permission": EDIT}]
    return result


def boards(settings: Settings, catalog: Catalog | None = None) -> list[Board]:
    """Every riverwatch dashboard with its folder, in a fixed order: the shared set, then per
    partner one set per catalog language (:func:`dashboards.audience.audiences`), reading the
    partner's own datasource (:func:`partner_datasource`) when ``sharing.views`` is on."""
    catalog = catalog or load_catalog(settings.catalog)
    detectors = list(settings.ingest.detectors)
    result = [Board(shared_folder(), model) for model in board_set(catalog, detectors, SHARED)]
    for audience in audiences(catalog):
        folder = partner_folder(catalog, audience.partner)
        models = board_set(catalog, detectors, audience)
        if settings.sharing.views:
            models = [retarget(model, partner_datasource_uid(audience.partner)) for model in models]
        result += [Board(folder, model, audience.partner) for model in models]
    return result


def retarget(model: object, uid: str) -> object:
    """``model`` with every reference to the main datasource pointing at ``uid`` instead (in place).

    >>> from dashboards.influxql import datasource_ref
    >>> retarget([datasource_ref()], "riverwatch-influxdb-lacville")[0].uid
    'riverwatch-influxdb-lacville'
    """
    if isinstance(model, DataSourceRef):
        if model.uid == DATASOURCE_UID:
            model.uid = uid
    elif isinstance(model, (list, tuple)):
        for item in model:
            retarget(item, uid)
    elif isinstance(model, dict):
        if model.get("uid") == DATASOURCE_UID and model.get("type") == DATASOURCE_TYPE:
            model["uid"] = uid
        for item in model.values():
            retarget(item, uid)
    elif type(model).__module__.startswith(("grafana_foundation_sdk", "dashboards.")) and not isinstance(model, Enum):
        for item in vars(model).values():
            retarget(item, uid)
    return model


def partner_datasource_uid(partner: str) -> str:
    """The uid of ``partner``'s datasource (Grafana uids: at most 40 characters)."""
    return f"{DATASOURCE_UID}-{partner}"[:40]


def partner_datasource(settings: Settings, partner: str) -> dict:
    """``partner``'s datasource: its own database (its view, :mod:`ingest.share_sink`), read with its
    read-only user ``reader.<partner>`` (InfluxDB 1.x, password from ``$INFLUX_READER_<PARTNER>_PASSWORD``)
    or its read token (2.x/3.x, ``$INFLUX_TOKEN_<PARTNER>``).

    >>> ds = partner_datasource(Settings(), "lacville")
    >>> ds["uid"], ds["jsonData"]["dbName"], ds["user"], ds["secureJsonData"]["password"]
    ('riverwatch-influxdb-lacville', 'riverwatch_lacville', 'reader.lacville', '${INFLUX_READER_LACVILLE_PASSWORD}')
    """
    ds = datasource(settings)
    ds.update(name=f"{DATASOURCE_NAME} ({partner})", uid=partner_datasource_uid(partner), isDefault=False,
              user=reader_account(partner))
    ds["jsonData"] = {**ds["jsonData"], "dbName": partner_database(settings.influx.database, partner)}
    ds["secureJsonData"] = {"httpHeaderValue1": f"Token ${{{token_variable(partner)}}}",
                            "password": f"${{{password_variable(partner)}}}"}
    return ds


def board_set(catalog: Catalog, detectors: list[str], audience: Audience) -> list:
    """Overview, Station, Detectors and Pipeline health for one audience."""
    return [overview(audience), station(catalog, detectors, audience), detectors_board(detectors, audience),
            pipeline_health(audience)]


def datasource(settings: Settings) -> dict:
    """The InfluxDB (InfluxQL) datasource: URL and database from settings, token from the environment."""
    influx = settings.influx
    ds = {
        "name": DATASOURCE_NAME,
        "uid": DATASOURCE_UID,
        "type": DATASOURCE_TYPE,
        "access": "proxy",
        "url": influx.url,
        "isDefault": True,
        "editable": False,
        "jsonData": {"version": "InfluxQL", "dbName": influx.database, "httpMode": "POST",
                     "httpHeaderName1": "Authorization"},
        "secureJsonData": {"httpHeaderValue1": "Token ${INFLUX_TOKEN}"},
    }
    if influx.username:
        ds["user"] = influx.username
        ds["secureJsonData"]["password"] = "${INFLUX_PASSWORD}"
    return ds


def datasources_file(settings: Settings, catalog: Catalog | None = None) -> dict:
    """``provisioning/datasources/riverwatch.yaml``: the main datasource, and each partner's."""
    partners = [p.id for p in (catalog or load_catalog(settings.catalog)).partners] if settings.sharing.views else []
    return {"apiVersion": 1, "datasources": [datasource(settings),
                                             *(partner_datasource(settings, p) for p in partners)]}


def dashboards_file() -> dict:
    """``provisioning/dashboards/riverwatch.yaml``: one file provider, folders from directories."""
    return {"apiVersion": 1, "providers": [{
        "name": "riverwatch",
        "orgId": 1,
        "type": "file",
        "disableDeletion": False,
        "allowUiUpdates": False,
        "updateIntervalSeconds": 60,
        "options": {"path": DASHBOARDS_PATH, "foldersFromFilesStructure": True},
    }]}


def alerting_file() -> dict:
    """``provisioning/alerting/riverwatch-rules.yaml``: the level rules, in the shared folder."""
    folder = shared_folder()
    return rule_file(alert_rules(folder.uid), folder.title)


def contact_point_name(partner_id: str) -> str:
    """The contact point of one partner."""
    return f"riverwatch-{partner_id}"


def partner_receivers(partner) -> list[dict]:
    """A partner's integrations from the catalog: email (all its addresses) and/or webhook."""
    receivers = []
    if partner.alert_emails:
        receivers.append({"uid": f"rw-cp-{partner.id}-email", "type": "email",
                          "settings": {"addresses": ";".join(partner.alert_emails), "singleEmail": True}})
    if partner.alert_webhook:
        receivers.append({"uid": f"rw-cp-{partner.id}-webhook", "type": "webhook",
                          "settings": {"url": partner.alert_webhook, "httpMethod": "POST"}})
    return receivers


def contacts_file(catalog: Catalog) -> dict:
    """``provisioning/alerting/riverwatch-contacts.yaml``: contact points and the notification policy.

    >>> from riverwatch.catalog import Partner
    >>> doc = contacts_file(Catalog(partners=[Partner(id="p", name="P", country="DE",
    ...                                               alert_webhook="https://p.example/hook")], stations=[]))
    >>> [c["name"] for c in doc["contactPoints"]], doc["policies"][0]["routes"][1]["object_matchers"]
    (['riverwatch-operators', 'riverwatch-p'], [['partner', '=', 'p']])
    """
    operators = {"orgId": ORG_ID, "name": OPERATORS, "receivers": [{
        "uid": "rw-cp-operators-email", "type": "email",
        "settings": {"addresses": f"${{{OPERATOR_EMAIL_ENV}}}", "singleEmail": True}}]}
    points, routes = [operators], [{"receiver": OPERATORS, "continue": True}]
    for partner in catalog.partners:
        receivers = partner_receivers(partner)
        if receivers:
            points.append({"orgId": ORG_ID, "name": contact_point_name(partner.id), "receivers": receivers})
            routes.append({"receiver": contact_point_name(partner.id), "continue": True,
                           "object_matchers": [["partner", "=", partner.id]]})
    policy = {"orgId": ORG_ID, "receiver": OPERATORS, "group_by": ["grafana_folder", "alertname"],
              "routes": routes}
    return {"apiVersion": 1, "contactPoints": points, "policies": [policy]}


def _yaml(doc: dict) -> str:
    return yaml.safe_dump(doc, sort_keys=True, allow_unicode=True, default_flow_style=False, width=100)


def write_all(settings: Settings, out: str | Path, catalog: Catalog | None = None) -> list[Path]:
    """Write every dashboard and provisioning file under ``out``; returns the paths, sorted."""
    out = Path(out)
    catalog = catalog or load_catalog(settings.catalog)
    written: list[Path] = []

    def put(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)

    for board in boards(settings, catalog):
        put(out / "dashboards" / board.folder.title / f"{board.uid}.json", to_json(board.model))
    put(out / "provisioning" / "datasources" / "riverwatch.yaml", _yaml(datasources_file(settings, catalog)))
    put(out / "provisioning" / "dashboards" / "riverwatch.yaml", _yaml(dashboards_file()))
    put(out / "provisioning" / "alerting" / "riverwatch-rules.yaml", _yaml(alerting_file()))
    put(out / "provisioning" / "alerting" / "riverwatch-contacts.yaml",
        _yaml(contacts_file(catalog)))
    return sorted(written)
