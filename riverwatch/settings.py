"""The one typed settings object.

Values come, in order of precedence, from constructor arguments, ``RIVERWATCH_…`` environment
variables (nested with ``__``, e.g. ``RIVERWATCH_MQTT__PORT``) and a TOML file
(``riverwatch.toml`` or ``--config FILE``). ``riverwatch.sample.toml`` documents every option.

Examples
--------
>>> s = Settings(mqtt={"port": 18830})
>>> s.mqtt.port, s.influx.database
(18830, 'riverwatch')
>>> s.influx.token is None
True
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from riverwatch.errors import ConfigError
from riverwatch.influx import InfluxClient
from riverwatch.model import Level

DEFAULT_CONFIG = "riverwatch.toml"
REPO_ROOT = Path(__file__).resolve().parent.parent
#: Sections refuse keys they do not know (a misspelt ``hots`` must not pass as the default host).
_SECTION = ConfigDict(extra="forbid")


class MqttSettings(BaseModel):
    """Connection to the MQTT broker."""

    model_config = _SECTION

    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    client_id: str = "riverwatch-ingest"
    tls: bool = False
    ca_file: Path | None = None
    keepalive_s: int = Field(30, ge=5)
    session_expiry_s: int = Field(3600, ge=0)
    shared_group: str | None = None
    max_payload_bytes: int = Field(16384, ge=256)
    receive_maximum: int = Field(1000, ge=1, le=65535)
    fast_path: bool = Field(True, description="the receive path of ingest.fastmqtt (buffered reads, batched "
                            "PUBACKs, reads held while the backlog is full) when the installed paho-mqtt is one "
                            "it supports; false: plain paho")


class InfluxSettings(BaseModel):
    """InfluxDB through its v1-compatible HTTP API (1.x, or 2.x/3.x with a token)."""

    model_config = _SECTION

    url: str = "http://127.0.0.1:8086"
    database: str = "riverwatch"
    token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    batch_lines: int = Field(5000, ge=1)
    flush_interval_s: float = Field(0.2, gt=0)
    timeout_s: float = Field(10.0, gt=0)

    def client(self, database: str | None = None) -> InfluxClient:
        """A client with these settings' URL, credentials and timeout, on ``database`` (default: theirs).

        >>> InfluxSettings(url="http://influx:8086").client("rw_lacville").database
        'rw_lacville'
        """
        return InfluxClient(self.url, database or self.database,
                            token=self.token.get_secret_value() if self.token else None, username=self.username,
                            password=self.password.get_secret_value() if self.password else None,
                            timeout=self.timeout_s)


class IngestSettings(BaseModel):
    """Checks on incoming messages and the running worker."""

    model_config = _SECTION

    max_future_s: float = Field(300.0, ge=0, description="clock skew tolerated into the future")
    max_late_s: float = Field(7 * 86400.0, gt=0, description="oldest accepted reading, seconds ago")
    summary_interval_s: float = Field(5.0, gt=0)
    spool_dir: Path = Path(".riverwatch/spool")
    spool_max_bytes: int = Field(1 << 30, ge=1 << 20)
    detectors: list[str] = Field(default_factory=lambda: ["level_threshold", "rate_of_rise", "relative_rise",
                                                          "time_to_threshold", "rainfall"])
    detector_params: dict[str, dict] = Field(default_factory=dict)
    publish_scores: bool = True
    shard: str | None = Field(None, pattern=r"^\d+/[1-9]\d*$",
                              description="'i/n': take only the catalog stations whose stable hash maps to shard i")
    metrics_port: int = Field(0, ge=0, le=65535, description="Prometheus /metrics port; 0 = off")
    metrics_host: str = Field("127.0.0.1", description="address the metrics endpoint listens on")
    watchdog_s: float = Field(300.0, ge=0, description="connected but silent this long: log, count, re-subscribe; 0 = off")
    max_queue: int = Field(10000, ge=2, description="messages received and not yet durable (processing queue + "
                           "writer) at most; mqtt.receive_maximum of them are kept for QoS 1, QoS 0 beyond the rest is dropped "
                           "and counted as 'overloaded'")

    @field_validator("shard")
    @classmethod
    def _shard_in_range(cls, value: str | None) -> str | None:
        if value is not None:
            index, count = (int(part) for part in value.split("/"))
            if index >= count:
                raise ValueError(f"shard {value!r}: i must be below n (0 <= i < n)")
        return value


class LifecycleTimes(BaseModel):
    """How long the warning lifecycle waits, in seconds: the defaults, or one hazard's.

    min_duration_s
        A level holds at least this long before it is lowered or cleared.
    clear_after_s
        Quiet time (every stream at NONE) needed to clear; multiplied by 1 + flaps (up to
        ``max_flap_backoff``) for a warning that has flapped.
    flap_window_s
        A warning raised again within this time after clearing re-opens under its old id.
    stale_after_s
        A stream that has not reported for this long counts as NONE (dead station, removed sensor).
    refresh_s
        Evidence of the driving stream is re-read at most this often while its level is unchanged
        (an ``updated`` event follows when its forecast crossing moved by ``expected_at_tolerance_s``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    min_duration_s: float = Field(1800.0, ge=0)
    clear_after_s: float = Field(1800.0, ge=0)
    flap_window_s: float = Field(3 * 3600.0, ge=0)
    max_flap_backoff: float = Field(4.0, ge=1)
    stale_after_s: float = Field(6 * 3600.0, gt=0)
    refresh_s: float = Field(900.0, ge=0)
    expected_at_tolerance_s: float = Field(900.0, ge=0)


class LifecycleSettings(LifecycleTimes):
    """The warning lifecycle (``[lifecycle]``): default times, which hazards are corroborated,
    private, propagated or held back, and per-hazard times (``[lifecycle.<hazard>]`` tables, each
    overriding some of the defaults).

    corroborate_hazards
        Hazards that are public only when corroborated.
    private_hazards
        Hazards that are always maintenance notices.
    propagate_hazards, propagate_min_level, propagated_level
        Which warnings travel downstream, from which level, and at which level they arrive.
    hold_hazards
        Hazards held back (non-public) while their evidence rests only on flagged sensors.
    hold_exempt_faults
        Sensor faults (``fault`` detail of a finding) that do not make a quantity suspect: a dropout
        says nothing about the values, and an impossible value (QC failed it) reached no hazard
        detector, so the warnings rest on the values that passed.

    >>> s = LifecycleSettings.model_validate({"clear_after_s": 600, "flood": {"min_duration_s": 3600}})
    >>> s.times("flood").min_duration_s, s.times("flood").clear_after_s, s.times("anomaly").min_duration_s
    (3600.0, 600.0, 1800.0)
    >>> LifecycleSettings.model_validate({"flood": {"min_durations": 1}})
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for LifecycleSettings
      lifecycle.flood.min_durations: Extra inputs are not permitted ...
    """

    corroborate_hazards: tuple[str, ...] = ("anomaly", "water_quality")
    private_hazards: tuple[str, ...] = ("sensor",)
    propagate_hazards: tuple[str, ...] = ("flood",)
    propagate_min_level: Level = Level.WATCH
    propagated_level: Level = Level.WATCH
    hold_hazards: tuple[str, ...] = ("flood", "water_quality", "anomaly")
    hold_exempt_faults: tuple[str, ...] = ("dropout", "impossible")
    hazards: dict[str, LifecycleTimes] = Field(default_factory=dict,
                                               description="per-hazard times, from [lifecycle.<hazard>]")

    @field_validator("propagate_min_level", "propagated_level", mode="before")
    @classmethod
    def _level_name(cls, value: object) -> object:
        return Level.parse(value) if isinstance(value, str) else value

    @model_validator(mode="before")
    @classmethod
    def _hazard_tables(cls, data: object) -> object:
        """Move ``[lifecycle.<hazard>]`` tables to ``hazards``, each completed by the defaults."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        tables = dict(data.pop("hazards", None) or {})
        tables.update({k: data.pop(k) for k in list(data)
                       if k not in cls.model_fields and isinstance(data[k], dict)})
        defaults = {k: v for k, v in data.items() if k in LifecycleTimes.model_fields}
        hazards = {}
        for hazard, table in tables.items():
            try:
                hazards[hazard] = LifecycleTimes.model_validate({**defaults, **table})
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(part) for part in first["loc"])
                msg = first["msg"]
                if first["type"] == "extra_forbidden":
                    msg += did_you_mean(where, list(LifecycleTimes.model_fields))
                raise PydanticCustomError("lifecycle_hazard", "lifecycle.{hazard}.{where}: {msg}",
                                          {"hazard": hazard, "where": where, "msg": msg}) from None
        data["hazards"] = hazards
        return data

    def times(self, hazard: str) -> LifecycleTimes:
        """The times of ``hazard``: its ``[lifecycle.<hazard>]`` table, else the defaults."""
        return self.hazards.get(hazard, self)


class FeedSettings(BaseModel):
    """The HTTP feed of active alerts (Atom + CAP + HTML) served by ``riverwatch run``."""

    model_config = _SECTION

    host: str = Field("127.0.0.1", description="listen address (0.0.0.0 inside a container)")
    port: int = Field(0, ge=0, le=65535, description="0 = no feed")
    public_url: str | None = Field(None, description="base URL the feed's links use, if proxied")


class AckSettings(BaseModel):
    """Acknowledgements of warnings (``[acks]``): when an unacknowledged warning is re-announced."""

    model_config = _SECTION

    remind_after_s: float = Field(900.0, gt=0, description="re-announce a warning at watch or above that no "
                                  "partner it concerns acknowledged for this long, and again as often")
    tokens: dict[str, SecretStr] = Field(default_factory=dict, description="partner id -> its operators' "
                                         "token for acknowledging on the alert pages (POST /alerts/<id>/ack); "
                                         "none: the pages take no acknowledgements")


class SharingSettings(BaseModel):
    """The sharing sink (``[sharing]``): each partner's view in its own database (``ingest/share_sink.py``).

    What goes where is the catalog's agreements (``[[sharing]]``); these say how the worker does it.
    """

    model_config = _SECTION

    views: bool = Field(True, description="write each partner's view into <influx.database>_<partner>")
    interval_s: float = Field(2.0, gt=0, description="seconds between passes over the windows that are due")
    raw_window_s: int = Field(10, ge=1, le=3600, description="raw data is copied per window of this many seconds, "
                              "once it has closed")
    restart_horizon_s: float = Field(600.0, ge=0, description="on start, windows this far back (beyond each "
                                     "agreement's window and delay) are shared again: what a crash left undone "
                                     "since the pending windows were last saved (every save_interval_s)")
    save_interval_s: float = Field(30.0, gt=0, description="seconds between saves of the pending windows")


class Settings(BaseSettings):
    """Everything riverwatch can be told; see ``riverwatch.sample.toml`` for the annotated file."""

    model_config = SettingsConfigDict(env_prefix="RIVERWATCH_", env_nested_delimiter="__",
                                      toml_file=DEFAULT_CONFIG, extra="forbid")

    catalog: Path = Field(REPO_ROOT / "catalog" / "demo.toml", description="the station catalog (TOML); a "
                          "relative path in the settings file is read from that file's folder")
    state_dir: Path = Path(".riverwatch")
    languages_default: str = "en"
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    influx: InfluxSettings = Field(default_factory=InfluxSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    feed: FeedSettings = Field(default_factory=FeedSettings)
    lifecycle: LifecycleSettings = Field(default_factory=LifecycleSettings)
    acks: AckSettings = Field(default_factory=AckSettings)
    sharing: SharingSettings = Field(default_factory=SharingSettings)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)

    @classmethod
    def load(cls, config: str | Path | None = None, **overrides: object) -> "Settings":
        """Load settings from ``config`` (else ``$RIVERWATCH_CONFIG``, else ``riverwatch.toml`` if
        present) and the environment. A relative ``catalog`` in the file is read from the file's folder.

        Raises
        ------
        ConfigError
            naming the first invalid option (with the nearest valid name for an unknown one), the
            file, line and column of a TOML syntax error, or a named config file that is missing.
        """
        path = config_path(config)
        catalog = read_toml(path).get("catalog")
        if (isinstance(catalog, str) and not Path(catalog).is_absolute() and "catalog" not in overrides
                and not any(key.upper() == "RIVERWATCH_CATALOG" for key in os.environ)):
            overrides["catalog"] = path.parent / catalog
        bound = type(cls.__name__, (cls,), {"model_config": {**cls.model_config, "toml_file": path}})
        try:
            return Settings.model_validate(bound(**overrides).model_dump())
        except ValidationError as exc:
            raise ConfigError(describe_error(exc.errors()[0])) from None


def config_path(config: str | Path | None = None) -> Path:
    """The settings file: ``config``, else ``$RIVERWATCH_CONFIG``, else ``riverwatch.toml``.

    A file named by ``--config`` or ``RIVERWATCH_CONFIG`` must exist; the default may be absent.

    >>> config_path("no/such.toml")
    Traceback (most recent call last):
    ...
    riverwatch.errors.ConfigError: --config: file no/such.toml not found
    """
    if config:
        source, path = "--config", Path(config)
    elif os.environ.get("RIVERWATCH_CONFIG"):
        source, path = "RIVERWATCH_CONFIG", Path(os.environ["RIVERWATCH_CONFIG"])
    else:
        return Path(DEFAULT_CONFIG)
    if not path.is_file():
        raise ConfigError(f"{source}: file {path} not found")
    return path


def read_toml(path: Path) -> dict:
    """The TOML document at ``path`` ({} when there is no such file).

    Raises
    ------
    ConfigError
        ``<file>:<line>:<column>: <what is wrong>`` for a syntax error, in one line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(toml_error(path, exc)) from None


def toml_error(path: str | Path, exc: tomllib.TOMLDecodeError) -> str:
    """One line for a TOML syntax error: file, line, column and what is wrong.

    >>> try:
    ...     tomllib.loads("[mqtt]\\nport = = 1")
    ... except tomllib.TOMLDecodeError as exc:
    ...     print(toml_error("riverwatch.toml", exc))
    riverwatch.toml:2:8: TOML syntax error: Invalid value
    """
    message = str(exc)
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if match is None:
        return f"{path}: TOML syntax error: {message}"
    return f"{path}:{match.group(1)}:{match.group(2)}: TOML syntax error: {message[:match.start()]}"


def did_you_mean(key: str, known: list[str] | tuple[str, ...], list_them: bool = True) -> str:
    """A hint naming the valid name nearest to ``key``, else listing the valid names (or nothing).

    >>> did_you_mean("hots", ["host", "port"]), did_you_mean("zzz", ["host", "port"])
    (" (did you mean 'host'?)", ' (valid: host, port)')
    """
    near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if near:
        return f" (did you mean {near[0]!r}?)"
    return f" (valid: {', '.join(known)})" if list_them else ""


def _section_keys(section: tuple[str, ...]) -> list[str]:
    """The option names valid in ``[section]`` of the settings file."""
    model: type[BaseModel] = Settings
    for part in section:
        field = model.model_fields.get(part)
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return []
        model = field.annotation
    return [name for name in model.model_fields if name != "hazards"]


def describe_error(error: dict) -> str:
    """The message of a settings ``ValidationError`` entry: the option, and for an unknown one
    its section and the nearest valid name.

    >>> describe_error({"type": "extra_forbidden", "loc": ("mqtt", "hots"), "msg": "Extra inputs"})
    "option mqtt.hots: unknown option 'hots' in [mqtt] (did you mean 'host'?)"
    """
    loc = tuple(str(part) for part in error["loc"])
    where, env = ".".join(loc), env_variable(loc)
    source = f" (from environment variable {env})" if env else ""
    if error["type"] != "extra_forbidden":
        return f"option {where}{source}: {error['msg']}"
    section = loc[:-1]
    place = f"[{'.'.join(section)}]" if section else "the top level"
    return (f"option {where}{source}: unknown option {loc[-1]!r} in {place}"
            f"{did_you_mean(loc[-1], _section_keys(section))}")


def env_variable(loc: tuple[str, ...]) -> str | None:
    """The environment variable that set option ``loc`` (``RIVERWATCH_MQTT__PORT``), if one did.

    >>> os.environ["RIVERWATCH_MQTT__HOTS"] = "broker"
    >>> env_variable(("mqtt", "hots")), env_variable(("mqtt", "port"))
    ('RIVERWATCH_MQTT__HOTS', None)
    >>> del os.environ["RIVERWATCH_MQTT__HOTS"]
    """
    wanted = "RIVERWATCH_" + "__".join(loc).upper()
    return next((name for name in os.environ if name.upper() == wanted), None)
