"""The daemon end to end, as an operator runs it: the real ``loanwatch`` command,
a simulated portfolio, a real SMTP server and a real HTTP receiver."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

LOANWATCH = str(Path(sys.executable).with_name("loanwatch"))


def lw(config: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([LOANWATCH, "--config", str(config), *args], capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"loanwatch {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def write_config(path: Path, smtp, http) -> None:
    mail = f"mailto://{smtp.host}:{smtp.port}?from=loanwatch@test.example&to=risk-a@bank-a.example"
    mail_c = f"mailto://{smtp.host}:{smtp.port}?from=loanwatch@test.example&to=risk-c@bank-c.example"
    path.write_text(f"""
[global]
store = "sqlite:///state/loanwatch.db"
spool_dir = "spool"
poll_interval_seconds = 0.2

[[banks]]
id = "bank_a"
name = "银行A"
locale = "zh-CN"
min_severity = "medium"
channels = ["{mail}"]

[[banks]]
id = "bank_b"
name = "Bank B"
locale = "en"
min_severity = "medium"
channels = ["lwhook://{http.host}:{http.port}/hooks/bank_b"]

[[banks]]
id = "bank_c"
name = "银行C"
locale = "zh-CN"
min_severity = "medium"
channels = ["{mail_c}", "lwhook://{http.host}:{http.port}/hooks/bank_c"]
""", encoding="utf-8")


def watchlist(path: Path) -> set[str]:
    with open(path, encoding="utf-8", newline="") as fh:
        return {r["enterprise_id"] for r in csv.DictReader(fh)}


def test_simulated_portfolio_alerts_the_right_banks_and_replay_sends_nothing(tmp_path, smtp_server, http_receiver):
    config = tmp_path / "config.toml"
    write_config(config, smtp_server, http_receiver)
    sim = tmp_path / "sim"
    lw(config, "simulate", "--out", str(sim), "--enterprises", "160", "--seed", "5")
    banks = ("bank_a", "bank_b", "bank_c")
    watched = {b: watchlist(sim / f"watchlist-{b}.csv") for b in banks}
    for b in banks:
        lw(config, "watchlist", "import", b, str(sim / f"watchlist-{b}.csv"))
    truth = json.loads((sim / "truth.json").read_text(encoding="utf-8"))
    sliding = {eid for eid, t in truth.items() if t["profile"] == "deteriorating"}

    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    shutil.copy(sim / "events.jsonl", spool / "batch-001.jsonl")
    lw(config, "run", "--once")
    assert (spool / "done" / "batch-001.jsonl").exists()

    alerts = json.loads(lw(config, "alerts", "--json", "--limit", "100000").stdout)
    assert alerts, "a portfolio with deteriorating firms must raise alerts"
    alerted = {b: {a["enterprise_id"] for a in alerts if a["bank_id"] == b} for b in banks}
    for b in banks:
        # a bank is only ever told about its own borrowers
        assert alerted[b] <= watched[b], f"{b} alerted on enterprises it does not watch"
    # the deteriorating firms a bank watches are what it hears about, far more than healthy ones
    for b in banks:
        mine = watched[b] & sliding
        healthy = watched[b] - sliding
        hit = len(alerted[b] & mine) / len(mine)
        noise = len(alerted[b] & healthy) / len(healthy)
        assert hit >= 0.5 and hit >= 4 * noise, (b, hit, noise)
    # every alert reached every channel of its bank, or was held behind a court listing; nothing failed
    for a in alerts:
        if a["inhibited_by"]:
            # held behind a court listing since; what went out before the listing was sent
            assert all(d["status"] == "sent" for d in a["deliveries"]), a
            continue
        assert a["deliveries"] and all(d["status"] == "sent" for d in a["deliveries"]), a
    # alerts due together for one enterprise arrive as one message carrying all of them
    hooked = {a["alert_id"] for a in alerts if a["bank_id"] in ("bank_b", "bank_c") for d in a["deliveries"]
              if d["channel"].startswith("lwhook")}
    received = set()
    for r in http_receiver.requests:
        body = r.json()
        assert r.path == f"/hooks/{body['bank_id']}"
        assert body["enterprise"]["id"] in watched[body["bank_id"]]
        assert r.header("X-Loanwatch-Alert-Id") == body["alert_id"]
        assert {ln["loan_id"].split("-")[0] for ln in body["loans"]} == {body["bank_id"].replace("_", "").upper()}
        received.add(body["alert_id"])
        received.update(x["alert_id"] for x in body.get("related", ()) if x.get("kind") != "open")
    assert received == hooked
    mailed = [a for a in alerts if a["bank_id"] in ("bank_a", "bank_c") and any(
        d["channel"].startswith("mailto") for d in a["deliveries"])]
    assert len({(a["bank_id"], a["enterprise_id"]) for a in mailed}) <= len(smtp_server.messages) <= len(mailed)
    for m in smtp_server.messages:
        to = m.rcpt_tos[0]
        eids = {a["enterprise_id"] for a in alerts if a["bank_id"] == ("bank_a" if "bank-a" in to else "bank_c")}
        assert any(eid in m.part("text/html") for eid in eids)

    # replay the very same file and restart: nothing is sent twice
    before = (len(smtp_server.messages), len(http_receiver.requests))
    shutil.copy(sim / "events.jsonl", spool / "batch-002.jsonl")
    lw(config, "run", "--once")
    assert (len(smtp_server.messages), len(http_receiver.requests)) == before
    again = json.loads(lw(config, "alerts", "--json", "--limit", "100000").stdout)
    assert sorted(a["alert_id"] for a in again) == sorted(a["alert_id"] for a in alerts)

    rejected = json.loads(lw(config, "rejected", "--json").stdout)
    assert sum(rejected["counts"].values()) > 0  # the simulator's malformed lines, kept with reasons
    assert all(e["reason"] and e["raw"] for e in rejected["events"])
