"""Systems under test: riverwatch workers (``riverwatch run`` subprocesses) and the Node-RED peer.

A target writes into its own InfluxDB database, exposes the pids whose CPU and memory are
measured, and is stopped (process group, SIGTERM then SIGKILL) whatever happens.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from riverwatch.influx import InfluxClient
from riverwatch.storage import READING
from application.services import ServiceUrls, free_port

REPO = Path(__file__).resolve().parent.parent
NODE_RED_DIR = REPO / "bench" / ".node-red"
NODE_RED_PACKAGES = ("node-red", "node-red-contrib-influxdb")


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERWATCH_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def stop_group(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM the process group of ``proc`` (started with ``start_new_session``), SIGKILL if needed."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


def _wait_for_log(path: Path, needle: str, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if needle in path.read_text(errors="replace"):
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def available_default_detectors() -> tuple[list[str], list[str]]:
    """(default detectors that are registered, default detectors missing from this checkout)."""
    from detectors.base import registry
    from riverwatch.settings import Settings

    known = registry()
    defaults = Settings().ingest.detectors
    return [d for d in defaults if d in known], [d for d in defaults if d not in known]


class RiverwatchTarget:
    """``n_workers`` × ``python -m application.cli run --config <generated TOML>``.

    With more than one worker, ``mqtt.shared_group`` splits the load (``$share/bench/...``).
    """

    kind = "riverwatch"

    def __init__(self, urls: ServiceUrls, catalog: Path, workdir: Path, n_workers: int = 1,
                 database: str | None = None, detectors: list[str] | None = None, views: bool = True,
                 variant: str = "") -> None:
        self.urls = urls
        self.catalog = catalog
        self.workdir = Path(workdir) / f"riverwatch-{n_workers}w{variant}"
        self.n_workers = n_workers
        self.database = database or f"bench_rw_{n_workers}w{variant.replace('-', '_')}"
        self.detectors = detectors if detectors is not None else available_default_detectors()[0]
        self.views = views
        self.name = f"riverwatch, {n_workers} worker{'s' if n_workers > 1 else ''}{variant and f' ({variant})'}"
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def _config(self, i: int) -> Path:
        wdir = self.workdir / f"worker-{i}"
        wdir.mkdir(parents=True, exist_ok=True)
        shared = f'shared_group = "bench"\n' if self.n_workers > 1 else ""
        detectors = ", ".join(f'"{d}"' for d in self.detectors)
        text = (f'catalog = "{self.catalog}"\nstate_dir = "{wdir}"\n\n'
                f'[mqtt]\nhost = "{self.urls.mqtt_host}"\nport = {self.urls.mqtt_port}\n'
                f'client_id = "bench-worker-{i}"\nsession_expiry_s = 600\n{shared}\n'
                f'[influx]\nurl = "{self.urls.influx_url}"\ndatabase = "{self.database}"\n\n'
                f'[ingest]\nspool_dir = "{wdir / "spool"}"\ndetectors = [{detectors}]\n\n'
                f'[sharing]\nviews = {"true" if self.views else "false"}\n')
        path = wdir / "riverwatch.toml"
        path.write_text(text)
        return path

    def start(self, timeout: float = 60.0) -> None:
        """Start every worker and wait until each has connected and subscribed."""
        client = InfluxClient(self.urls.influx_url, self.database)
        client.drop_database()
        client.create_database()
        client.close()
        for i in range(self.n_workers):
            config = self._config(i)
            log = config.parent / "worker.log"
            self.logs.append(log)
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "application.cli", "run", "--config", str(config)],
                cwd=REPO, env=_clean_env(), stdin=subprocess.DEVNULL, stdout=open(log, "wb"),
                stderr=subprocess.STDOUT, start_new_session=True))
        for proc, log in zip(self.procs, self.logs):
            if not _wait_for_log(log, "MQTT connected", proc, timeout):
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"riverwatch worker did not connect within {timeout:.0f} s:\n{tail}")
        time.sleep(0.5)  # SUBACK follows CONNACK

    def pids(self) -> list[int]:
        """Pids of the worker processes."""
        return [p.pid for p in self.procs if p.poll() is None]

    def stop(self) -> None:
        """Stop every worker (SIGTERM lets them drain and checkpoint)."""
        for proc in self.procs:
            stop_group(proc, 30.0)

    def log_tail(self, chars: int = 1500) -> str:
        """The end of the first worker's log."""
        return self.logs[0].read_text(errors="replace")[-chars:] if self.logs else ""

    def describe(self) -> dict:
        """What was run."""
        return {"kind": self.kind, "workers": self.n_workers, "detectors": self.detectors, "views": self.views,
                "database": self.database, "command": "python -m application.cli run --config <generated>"}


# =========================================================================== Node-RED


def node_red_status() -> dict:
    """Whether npm/node exist and the bench-only Node-RED install is present."""
    return {"npm": shutil.which("npm"), "node": shutil.which("node"),
            "installed": (NODE_RED_DIR / "node_modules" / "node-red" / "red.js").is_file()
            and (NODE_RED_DIR / "node_modules" / "node-red-contrib-influxdb").is_dir()}


def install_node_red(timeout: float = 600.0) -> dict:
    """``npm install node-red node-red-contrib-influxdb`` into ``bench/.node-red/`` (once).

    Returns the status dict plus ``versions`` (or ``skipped`` with the reason).
    """
    status = node_red_status()
    if not status["npm"] or not status["node"]:
        return {**status, "skipped": "npm or node not found on PATH: Node-RED peer skipped"}
    if not status["installed"]:
        NODE_RED_DIR.mkdir(parents=True, exist_ok=True)
        pkg = NODE_RED_DIR / "package.json"
        if not pkg.exists():
            pkg.write_text(json.dumps({"name": "riverwatch-bench-node-red", "private": True}, indent=2) + "\n")
        print(f"bench: installing {' '.join(NODE_RED_PACKAGES)} into {NODE_RED_DIR} with npm "
              f"(bench only, git-ignored; first time takes a minute or two)", flush=True)
        proc = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error",
                               *NODE_RED_PACKAGES], cwd=NODE_RED_DIR, capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode != 0:
            return {**status, "skipped": f"npm install failed: {proc.stderr[-800:]}"}
        status = node_red_status()
    versions = {}
    for name in NODE_RED_PACKAGES:
        try:
            versions[name] = json.loads((NODE_RED_DIR / "node_modules" / name / "package.json").read_text())["version"]
        except (OSError, ValueError, KeyError):
            versions[name] = None
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return {**status, "versions": versions, "node_version": node}


#: Function node: one MQTT message -> the ``reading`` points riverwatch writes (same tags/fields).
_TO_POINTS = r"""
const p = msg.topic.split('/');
const kind = p[3].startsWith('q') ? 'wq_sonde' : 'river_gauge';
const t = Date.parse(msg.payload.ts);
const out = [];
const r = msg.payload.readings;
for (const q in r) {
  const v = r[q].value;
  if (typeof v !== 'number' || !isFinite(v)) continue;
  out.push(MODE === 'batch'
    ? {measurement: MEASUREMENT, tags: {partner: p[2], station: p[3], quantity: q, kind: kind},
       fields: {value: v, qc: 2, seq: msg.payload.seq}, timestamp: t}
    : [{value: v, qc: '2i', seq: msg.payload.seq + 'i', time: t},
       {partner: p[2], station: p[3], quantity: q, kind: kind}]);
}
msg.payload = out;
return msg;
"""


def node_red_flow(variant: str, mqtt_port: int, influx_port: int, database: str,
                  batch_count: int = 1000, batch_timeout_s: float = 0.2) -> list[dict]:
    """The bench flow: MQTT in -> JSON -> function (points) -> InfluxDB out, or -> join -> batch.

    ``variant`` is ``"plain"`` (``influxdb out``, one write per message) or ``"batch"`` (a join
    node gathers ``batch_count`` messages or ``batch_timeout_s``, then one ``influxdb batch`` write).
    ``qc`` is 2 (QARTOD not evaluated: Node-RED does no QC). ``influxdb out`` writes ``qc``/``seq`` as
    integers (its ``"<n>i"`` convention); ``influxdb batch`` on 1.x passes points to node-influx as
    they are, so there they are floats.
    """
    mode = "batch" if variant == "batch" else "plain"
    tab = {"id": "tab1", "type": "tab", "label": f"riverwatch bench ({mode})"}
    broker = {"id": "broker1", "type": "mqtt-broker", "name": "bench broker", "broker": "127.0.0.1",
              "port": str(mqtt_port), "clientid": f"bench-node-red-{mode}", "usetls": False,
              "protocolVersion": "4", "keepalive": "60", "cleansession": True, "autoConnect": True,
              "birthTopic": "", "closeTopic": "", "willTopic": ""}
    influx = {"id": "influx1", "type": "influxdb", "hostname": "127.0.0.1", "port": str(influx_port),
              "protocol": "http", "database": database, "name": "bench influx", "usetls": False,
              "influxdbVersion": "1.x", "timeout": "10", "rejectUnauthorized": False}
    nodes = [tab, broker, influx,
             {"id": "in1", "type": "mqtt in", "z": "tab1", "name": "data", "topic": "rw/v1/+/+/data", "qos": "1",
              "datatype": "utf8", "broker": "broker1", "nl": False, "rap": False, "inputs": 0,
              "x": 100, "y": 100, "wires": [["json1"]]},
             {"id": "json1", "type": "json", "z": "tab1", "name": "", "property": "payload", "action": "obj",
              "pretty": False, "x": 250, "y": 100, "wires": [["fn1"]]},
             {"id": "fn1", "type": "function", "z": "tab1", "name": "to points",
              "func": f"const MODE = '{mode}';\nconst MEASUREMENT = '{READING}';\n" + _TO_POINTS, "outputs": 1,
              "x": 400, "y": 100, "wires": [["join1" if mode == "batch" else "out1"]]}]
    if mode == "batch":
        nodes += [
            {"id": "join1", "type": "join", "z": "tab1", "name": "gather", "mode": "custom", "build": "array",
             "property": "payload", "propertyType": "msg", "key": "topic", "joiner": "\\n", "joinerType": "str",
             "accumulate": False, "timeout": str(batch_timeout_s), "count": str(batch_count), "reduceRight": False,
             "x": 550, "y": 100, "wires": [["flat1"]]},
            {"id": "flat1", "type": "function", "z": "tab1", "name": "flatten",
             "func": "msg.payload = msg.payload.flat();\nreturn msg;", "outputs": 1, "x": 700, "y": 100,
             "wires": [["out1"]]},
            {"id": "out1", "type": "influxdb batch", "z": "tab1", "influxdb": "influx1", "precision": "ms",
             "retentionPolicy": "", "name": "write batch", "x": 850, "y": 100, "wires": []}]
    else:
        nodes.append({"id": "out1", "type": "influxdb out", "z": "tab1", "influxdb": "influx1", "name": "write",
                      "measurement": READING, "precision": "ms", "retentionPolicy": "", "x": 600, "y": 100,
                      "wires": []})
    return nodes


class NodeRedTarget:
    """Node-RED with the bench flow (``plain`` or ``batch``) against the same broker and InfluxDB."""

    kind = "node-red"

    def __init__(self, urls: ServiceUrls, workdir: Path, variant: str, database: str | None = None) -> None:
        self.urls = urls
        self.variant = variant
        self.database = database or f"bench_nodered_{variant}"
        self.name = f"Node-RED, influxdb {'batch (join 1000 / 0.2 s)' if variant == 'batch' else 'out'}"
        self.user_dir = Path(workdir) / f"node-red-{variant}"
        self.flow_file = REPO / "bench" / f"node_red_flow_{variant}.json"  # the flow, for readers
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> None:
        """Write the flow and settings, start Node-RED and wait until its MQTT node is connected."""
        client = InfluxClient(self.urls.influx_url, self.database)
        client.drop_database()
        client.create_database()
        client.close()
        influx_port = int(self.urls.influx_url.rsplit(":", 1)[1])
        flow = node_red_flow(self.variant, self.urls.mqtt_port, influx_port, self.database)
        self.user_dir.mkdir(parents=True, exist_ok=True)
        flows = self.user_dir / "flows.json"  # this run's ports; the repo copy stays as it is
        flows.write_text(json.dumps(flow, indent=1) + "\n")
        settings = self.user_dir / "settings.js"
        settings.write_text(
            "module.exports = {\n"
            f"  uiHost: '127.0.0.1', uiPort: {free_port()}, flowFile: 'flows.json',\n"
            "  credentialSecret: false, httpAdminRoot: false, httpNodeRoot: false, disableEditor: true,\n"
            "  logging: { console: { level: 'info', metrics: false, audit: false } },\n"
            "  contextStorage: { default: { module: 'memory' } },\n"
            "};\n")
        log = self.user_dir / "node-red.log"
        self.log = log
        red = NODE_RED_DIR / "node_modules" / "node-red" / "red.js"
        self.proc = subprocess.Popen(
            ["node", "--max-old-space-size=4096", str(red), "--userDir", str(self.user_dir),
             "--settings", str(settings)],
            cwd=self.user_dir, stdin=subprocess.DEVNULL, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
            start_new_session=True)
        if not _wait_for_log(log, "Connected to broker", self.proc, timeout):
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            self.stop()
            raise RuntimeError(f"Node-RED did not connect to the broker within {timeout:.0f} s:\n{tail}")
        time.sleep(1.0)

    def pids(self) -> list[int]:
        """Pid of the Node-RED process."""
        return [self.proc.pid] if self.proc is not None and self.proc.poll() is None else []

    def stop(self) -> None:
        """Stop Node-RED."""
        if self.proc is not None:
            stop_group(self.proc, 15.0)

    def log_tail(self, chars: int = 1500) -> str:
        """The end of Node-RED's log."""
        return self.log.read_text(errors="replace")[-chars:] if getattr(self, "log", None) else ""

    def describe(self) -> dict:
        """What was run."""
        return {"kind": self.kind, "variant": self.variant, "database": self.database,
                "flow_file": str(self.flow_file.relative_to(REPO))}
