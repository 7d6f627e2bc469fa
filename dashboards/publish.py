"""Publish the dashboards, datasource, folders and alert rules through Grafana's HTTP API.

Publishing is idempotent: folders and the datasource are created or updated under their fixed
uids, dashboards are saved with ``overwrite=True`` under the same uid, alert rules are updated
when their uid exists. :func:`plan` builds every payload without talking to Grafana (tests
validate them against the schemas); :func:`publish` sends them.

Examples
--------
>>> from riverwatch.settings import Settings
>>> steps = plan(Settings())
>>> list(dict.fromkeys(s.kind for s in steps))
['folder', 'folder_permissions', 'datasource', 'dashboard', 'alert_rule']
>>> next(s for s in steps if s.kind == "dashboard").payload["overwrite"]
True
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from riverwatch.catalog import Catalog, load_catalog
from riverwatch.errors import ConfigError, SinkError
from riverwatch.settings import Settings
from riverwatch.sharing import password_variable, token_variable
from dashboards.alerting import alert_rules
from dashboards.build import to_dict
from dashboards.provisioning import (boards, datasource, folder_permissions, folders, partner_datasource,
                                     partner_datasource_uid, shared_folder)

log = logging.getLogger(__name__)

#: The oldest Grafana major the dashboards are built for (grafana-foundation-sdk pinned to 11.6).
MIN_GRAFANA_MAJOR = 11


class PublishError(SinkError):
    """Grafana could not be reached, is too old, refused the token, or refused a payload."""


@dataclass(frozen=True, slots=True)
class Step:
    """One API call to make: what (``folder``, ``datasource``, ``dashboard``, ``alert_rule``),
    its uid, and the JSON payload."""

    kind: str
    uid: str
    payload: dict


def datasource_payload(settings: Settings) -> dict:
    """The datasource for the API: like the provisioned one, but with the real token (if any)."""
    ds = datasource(settings)
    secure: dict[str, str] = {}
    if settings.influx.token is not None:
        secure["httpHeaderValue1"] = f"Token {settings.influx.token.get_secret_value()}"
    else:
        ds["jsonData"].pop("httpHeaderName1")
    if settings.influx.username:
        password = settings.influx.password.get_secret_value() if settings.influx.password else ""
        secure["password"] = password
    ds["secureJsonData"] = secure
    if not secure:
        del ds["secureJsonData"]
    return ds


def partner_payload(settings: Settings, partner: str) -> dict:
    """A partner's datasource for the API, its secret from the environment the provisioned file names
    (``INFLUX_READER_<PARTNER>_PASSWORD`` with a user, ``INFLUX_TOKEN_<PARTNER>`` with a token)."""
    ds = partner_datasource(settings, partner)
    token, password = os.environ.get(token_variable(partner)), os.environ.get(password_variable(partner))
    secure = {**({"httpHeaderValue1": f"Token {token}"} if token is not None else {}),
              **({"password": password} if password is not None else {})}
    if "httpHeaderValue1" not in secure:
        ds["jsonData"].pop("httpHeaderName1", None)
    ds["secureJsonData"] = secure
    return ds


def plan(settings: Settings, catalog: Catalog | None = None) -> list[Step]:
    """Every payload to publish, in order: folders, their permissions, datasource, dashboards,
    alert rules."""
    catalog = catalog or load_catalog(settings.catalog)
    steps = [Step("folder", f.uid, {"uid": f.uid, "title": f.title}) for f in folders(catalog)]
    steps += [Step("folder_permissions", uid, {"items": items})
              for uid, items in folder_permissions(catalog).items()]
    steps.append(Step("datasource", datasource(settings)["uid"], datasource_payload(settings)))
    if settings.sharing.views:
        steps += [Step("datasource", partner_datasource_uid(p.id), partner_payload(settings, p.id))
                  for p in catalog.partners]
    for board in boards(settings, catalog):
        payload = {"dashboard": to_dict(board.model), "folderUid": board.folder.uid, "overwrite": True,
                   "message": "published by riverwatch"}
        steps.append(Step("dashboard", board.uid, payload))
    steps += [Step("alert_rule", rule["uid"], rule) for rule in alert_rules(shared_folder().uid)]
    return steps


def connect(url: str, token: str, timeout: float = 10.0) -> Any:
    """A grafana-client API after checking Grafana answers, is new enough and accepts the token.

    Raises
    ------
    PublishError
        naming the URL and what went wrong (unreachable, version, 401/403).
    """
    from grafana_client import GrafanaApi
    from grafana_client.client import GrafanaClientError, GrafanaException

    api = GrafanaApi.from_url(url, credential=token, timeout=timeout)
    try:
        health = api.health.check()
    except GrafanaException as exc:
        raise PublishError(f"Grafana at {url} answered the health check with HTTP {exc.status_code}: "
                           f"{exc.message}") from None
    except OSError as exc:  # niquests' ConnectionError and timeouts derive from OSError
        raise PublishError(f"Grafana at {url} is unreachable: {type(exc).__name__}") from None
    version = str(health.get("version", "")) if isinstance(health, dict) else ""
    major = int(version.split(".")[0]) if version.split(".")[0].isdigit() else 0
    if major < MIN_GRAFANA_MAJOR:
        raise PublishError(f"Grafana at {url} reports version {version or 'unknown'}; "
                           f"riverwatch dashboards need Grafana {MIN_GRAFANA_MAJOR} or newer")
    try:
        api.folder.get_all_folders()
    except GrafanaClientError as exc:
        if exc.status_code in (401, 403):
            raise PublishError(f"Grafana at {url} refused the token (HTTP {exc.status_code}): "
                               "use a service-account token with the Editor or Admin role") from None
        raise PublishError(f"Grafana at {url}: HTTP {exc.status_code}: {exc.message}") from None
    return api


def _exists(getter, uid: str) -> bool:
    from grafana_client.client import GrafanaClientError

    try:
        getter(uid)
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return False
        raise
    return True


def _team_id(api: Any, name: str) -> int:
    """The id of the Grafana team ``name``, created when missing."""
    found = [team for team in api.teams.get_team_by_name(name) if team.get("name") == name]
    if found:
        return int(found[0]["id"])
    return int(api.teams.add_team({"name": name})["teamId"])


def _send(api: Any, step: Step) -> None:
    if step.kind == "folder":
        if _exists(api.folder.get_folder, step.uid):
            api.folder.update_folder(step.uid, title=step.payload["title"], overwrite=True)
        else:
            api.folder.create_folder(step.payload["title"], uid=step.uid)
    elif step.kind == "folder_permissions":
        items = [{"teamId": _team_id(api, item["team"]), "permission": item["permission"]}
                 for item in step.payload["items"]]
        api.folder.update_folder_permissions(step.uid, {"items": items})
    elif step.kind == "datasource":
        if _exists(api.datasource.get_datasource_by_uid, step.uid):
            api.datasource.update_datasource_by_uid(step.uid, step.payload)
        else:
            api.datasource.create_datasource(step.payload)
    elif step.kind == "dashboard":
        api.dashboard.update_dashboard(step.payload)
    elif step.kind == "alert_rule":
        if _exists(api.alertingprovisioning.get_alertrule, step.uid):
            api.alertingprovisioning.update_alertrule(step.uid, step.payload)
        else:
            api.alertingprovisioning.create_alertrule(step.payload)
    else:  # pragma: no cover - plan() only makes the kinds above
        raise ConfigError(f"unknown publish step {step.kind!r}")


def publish(url: str, token: str, settings: Settings, catalog: Catalog | None = None) -> list[Step]:
    """Check Grafana, then create or update every folder, the datasource, dashboards and rules.

    Raises
    ------
    PublishError
        When Grafana is unreachable, too old, refuses the token, or refuses a payload (the
        message names the step).
    """
    steps = plan(settings, catalog)
    api = connect(url, token)
    from grafana_client.client import GrafanaException

    for step in steps:
        try:
            _send(api, step)
        except GrafanaException as exc:
            raise PublishError(f"Grafana refused {step.kind} {step.uid}: HTTP {exc.status_code}: "
                               f"{exc.message}") from None
        log.info("published %s %s", step.kind, step.uid)
    return steps
