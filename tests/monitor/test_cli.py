"""The loanwatch command: config check, watchlists, ingest summary, change points."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from monitor.cli import cli
from tests.monitor.events import HEALTHY, SLIDING, headcount_lines, watchlist_csv


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("""
[global]
store = "sqlite:///lw.db"
[[banks]]
id = "bank_a"
name = "A"
channels = ["mailto://127.0.0.1:2525?from=a@x.example&to=b@x.example"]
[[banks]]
id = "bank_b"
name = "B"
locale = "en"
""", encoding="utf-8")
    return path


def run(config, *args, ok=True):
    result = CliRunner().invoke(cli, ["--config", str(config), *args], obj={})
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_config_check_lists_what_it_found(config):
    out = run(config, "config", "check").output
    assert "bank bank_a: A (zh-CN), min severity medium, 1 channel(s)" in out
    assert "mailto://" in out and "distress_score" in out


@pytest.mark.parametrize("body,message", [
    ('[global]\nbatch_size = "big"\n', "global.batch_size: expected int"),
    ('[[banks]]\nid = "A B"\n', "banks[0].id"),
    ('[[banks]]\nid = "a"\nlocale = "fr"\n', "banks[a].locale: 'fr' is not supported"),
    ('[detectors.headcount_drop]\ntreshold = 1\n', "detectors.headcount_drop: unknown setting 'treshold'"),
    ('[[banks]]\nid = "a"\nchannels = ["nosuchscheme://x"]\n', "banks[a].channels[0]"),
    ("[global\n", "not valid TOML"),
])
def test_bad_config_is_refused_with_the_key(tmp_path, body, message):
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    result = run(path, "config", "check", ok=False)
    assert result.exit_code == 1
    assert message in result.output


def test_config_check_reports_every_problem_at_once_and_every_command_refuses_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[global]\nbatch_size = "big"\n[kafka]\npartitions = 0\nbootstrap = "nohost"\n'
                    '[[banks]]\nid = "a"\nlocale = "fr"\nchannels = ["nosuchscheme://x"]\n', encoding="utf-8")
    problems = ["global.batch_size: expected int, got str 'big'", "kafka.partitions: must be >= 1, got 0",
                "kafka.bootstrap: 'nohost' is not host:port", "banks[a].locale: 'fr' is not supported",
                "banks[a].channels[0]: "]
    for command in (["config", "check"], ["alerts"], ["topics", "create"]):
        result = run(path, *command, ok=False)
        assert result.exit_code == 1, command
        lines = result.stderr.splitlines()
        for problem in problems:
            assert sum(line.startswith(problem) for line in lines) == 1, (problem, lines)
        assert lines[-1] == f"Error: {path}: 5 problems (listed above); nothing was loaded"
        assert "Traceback" not in result.output


def test_watchlist_import_is_all_or_nothing(config, tmp_path):
    good = watchlist_csv([(HEALTHY, "A-1", 1e6), (SLIDING, "A-2", 2e6)])
    bad = good + f"{HEALTHY[:-1]}0,A-3,100,2027-01-01,王,x\n{SLIDING},A-4,-5,2027-13-01,王,y\n"
    (tmp_path / "bad.csv").write_text(bad, encoding="utf-8")
    result = run(config, "watchlist", "import", "bank_a", str(tmp_path / "bad.csv"), ok=False)
    assert result.exit_code == 1
    assert "bad.csv:4: enterprise_id: check character" in result.output
    assert "bad.csv:5: exposure must be a non-negative amount" in result.output
    assert "bad.csv:5: due_date '2027-13-01' is not YYYY-MM-DD" in result.output
    assert "nothing imported" in result.output
    assert json.loads(run(config, "watchlist", "list", "bank_a", "--json").stdout) == []

    (tmp_path / "good.csv").write_text(good, encoding="utf-8")
    assert "imported 2 loan(s)" in run(config, "watchlist", "import", "bank_a", str(tmp_path / "good.csv")).output
    rows = json.loads(run(config, "watchlist", "list", "bank_a", "--json").stdout)
    assert [(r["enterprise_id"], r["loan_id"], r["exposure"]) for r in rows] == [
        (HEALTHY, "A-1", 1e6), (SLIDING, "A-2", 2e6)]
    # another bank sees none of it
    assert json.loads(run(config, "watchlist", "list", "bank_b", "--json").stdout) == []

    run(config, "watchlist", "add", "bank_b", SLIDING, "--loan-id", "B-9", "--exposure", "3000000",
        "--due-date", "2026-12-31", "--manager", "李", "--name", "测试")
    assert [r["loan_id"] for r in json.loads(run(config, "watchlist", "list", "bank_b", "--json").stdout)] == ["B-9"]
    assert "removed 1 loan(s)" in run(config, "watchlist", "remove", "bank_a", HEALTHY).output
    assert run(config, "watchlist", "remove", "bank_a", HEALTHY, ok=False).exit_code == 1
    assert "unknown bank 'bank_z'" in run(config, "watchlist", "list", "bank_z", ok=False).output


def test_ingest_prints_a_summary(config, tmp_path):
    lines = headcount_lines(HEALTHY, "2024-01", "2024-06", seed=1)
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines + [lines[0], "{oops", ""]) + "\n", encoding="utf-8")
    out = json.loads(run(config, "ingest", "--json", "--no-deliver", str(events)).stdout)
    assert (out["accepted"], out["duplicates"], out["rejected"]) == (6, 1, {"bad_json": 1})
    text = run(config, "ingest", str(events)).output
    assert "duplicates  7" in text and "rejected    1" in text
    missing = run(config, "ingest", str(tmp_path / "nope.jsonl"), ok=False)
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_changepoints_writes_segment_starts(tmp_path):
    rng = np.random.default_rng(0)
    values = np.r_[rng.normal(0, 1, 40), rng.normal(5, 1, 40)]
    values[10] = np.nan
    series = {"name": "toy", "n_obs": 80, "n_dim": 1,
              "series": [{"label": "V1", "type": "float", "raw": [None if np.isnan(v) else v for v in values]}]}
    (tmp_path / "toy.json").write_text(json.dumps(series), encoding="utf-8")
    result = CliRunner().invoke(cli, ["changepoints", str(tmp_path), "--out", str(tmp_path / "cp.json")], obj={})
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "cp.json").read_text()) == {"toy": [40]}


def test_demo_simulates_runs_and_scores(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[[banks]]\nid = "bank_a"\nname = "A"\n', encoding="utf-8")
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["--config", str(config), "demo", "--out", str(out), "--enterprises", "80",
                                      "--seed", "3"], obj={})
    assert result.exit_code == 0, result.output
    assert "simulated 80 enterprises" in result.output
    assert "counting from the month the alert was raised" in result.output and "per 100 firm-years" in result.output
    summary = json.loads((out / "demo-summary.json").read_text(encoding="utf-8"))
    assert summary["ingest"]["accepted"] > 5000 and summary["ingest"]["rejected_total"] > 0
    # the demo leaves a config to go on with its own store
    alerts = CliRunner().invoke(cli, ["--config", str(out / "config.toml"), "alerts", "--json"], obj={})
    assert alerts.exit_code == 0 and isinstance(json.loads(alerts.stdout), list)
