"""The ``riverwatch`` command as a new user meets it: --version, -v anywhere, help that explains,
one meaning of --duration, and configuration mistakes named in one line."""

from __future__ import annotations

import argparse

import pytest

from application.cli import build_parser, installed_version, leaf_parsers, main
from devices.cli import DURATION_HELP, pace
from riverwatch.errors import ConfigError
from riverwatch.settings import REPO_ROOT


def help_of(*command: str, capsys) -> str:
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def test_version_is_printed(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"riverwatch {installed_version()}"
    assert installed_version() != ""


def test_verbose_is_accepted_after_every_sub_command():
    parser = build_parser()
    leaves = leaf_parsers(parser)
    assert len(leaves) >= 10
    for argv in (["run", "-v"], ["config", "check", "--verbose"], ["services", "status", "-v"],
                 ["simulate", "-v"], ["demo", "-v"], ["dashboards", "build", "--out", "x", "-v"]):
        assert parser.parse_args(argv).verbose is True, argv
    assert parser.parse_args(["-v", "config", "check"]).verbose is True  # before it, as always
    assert parser.parse_args(["config", "check"]).verbose is False


def test_run_has_a_description(capsys):
    text = help_of("run", capsys=capsys)
    assert "InfluxDB" in text and "rejected topic" in text and "SIGTERM" in text


def test_evaluate_format_explains_every_choice(capsys):
    text = " ".join(help_of("evaluate", capsys=capsys).split())
    for fmt in ("nab", "gecco", "usgs", "csv", "qld", "influx"):
        assert f"{fmt} (" in text, fmt


def test_demo_seed_and_scenario_are_explained(capsys):
    text = " ".join(help_of("demo", capsys=capsys).split())
    assert "--scenario {all,calm,faults,plume,storm}" in text
    assert "random seed" in text
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--scenario", "strom"])


@pytest.mark.parametrize("command", [["run"], ["demo"], ["simulate"]])
def test_duration_means_wall_clock_time_for_every_command(command, capsys):
    text = " ".join(help_of(*command, capsys=capsys).split())
    assert DURATION_HELP in text
    assert build_parser().parse_args([*command, "--duration", "90m"]).duration == 5400.0


def test_simulate_duration_is_wall_time_and_span_is_simulated_time():
    hour, day = 3600.0, 86400.0
    assert pace(None, 600.0, 120.0, needed_s=day) == (72000.0, 600.0)  # the README's example: 20 h of river time
    assert pace(None, None, 120.0, needed_s=day) == (day, 720.0)  # the scenario in two minutes
    assert pace(hour, None, None, needed_s=day) == (hour, 60.0)
    with pytest.raises(ConfigError, match="at most two"):
        pace(hour, 60.0, 60.0, needed_s=day)
    with pytest.raises(ConfigError, match="--span instead"):
        pace(None, 0.0, 60.0, needed_s=day)


def test_config_mistakes_are_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text("[mqtt]\nhost = \n")
    assert main(["config", "check", "--config", "bad.toml"]) == 2
    err = capsys.readouterr().err
    assert err == "riverwatch: bad.toml:2:8: TOML syntax error: Invalid value\n"
    (tmp_path / "typo.toml").write_text('[mqtt]\nhots = "broker"\n')
    assert main(["config", "check", "--config", "typo.toml"]) == 2
    assert "did you mean 'host'?" in capsys.readouterr().err
    catalog = tmp_path / "catalog.toml"
    catalog.write_text((REPO_ROOT / "catalog" / "demo.toml").read_text().replace('["fr", "en"]', '["fr", "eN"]'))
    (tmp_path / "lang.toml").write_text('catalog = "catalog.toml"\n')
    assert main(["config", "check", "--config", "lang.toml"]) == 2
    assert "partner lacville: language 'eN' has no message catalog (valid: de, en, fr)" in capsys.readouterr().err


def test_config_render_counts_gateway_accounts(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "catalog.toml").write_text((REPO_ROOT / "catalog" / "demo.toml").read_text()
                                           + '\n[[gateways]]\nid = "logger-1"\npartner = "lacville"\n'
                                             'stations = ["gauge-lacville", "wq-lacville"]\n')
    (tmp_path / "riverwatch.toml").write_text('catalog = "catalog.toml"\n')
    assert main(["config", "render", "--config", "riverwatch.toml", "--out", "broker"]) == 0
    assert "1 gateways" in capsys.readouterr().out
    acl = (tmp_path / "broker" / "mosquitto.acl").read_text()
    block = acl.split("user gw.lacville.logger-1\n")[1].split("\n\n")[0]
    assert block.splitlines() == [
        "topic write rw/v1/lacville/logger-1/status",
        "topic write rw/v1/lacville/gauge-lacville/data", "topic write rw/v1/lacville/gauge-lacville/status",
        "topic read rw/v1/lacville/gauge-lacville/rejected",
        "topic write rw/v1/lacville/wq-lacville/data", "topic write rw/v1/lacville/wq-lacville/status",
        "topic read rw/v1/lacville/wq-lacville/rejected"]
    assert isinstance(build_parser(), argparse.ArgumentParser)
