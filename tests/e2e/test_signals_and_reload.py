"""The daemon as a process: SIGHUP reloads the config (a broken one is refused and the old one
kept), SIGTERM stops it cleanly, a file dropped into the spool is picked up while it runs."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.monitor.events import HEALTHY, headcount_lines

LOANWATCH = str(Path(sys.executable).with_name("loanwatch"))
CONFIG = """
[global]
store = "sqlite:///lw.db"
spool_dir = "spool"
poll_interval_seconds = 0.2
[[banks]]
id = "bank_a"
name = "{name}"
"""


def wait_for(predicate, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_reload_refuse_broken_config_pick_up_spool_and_stop(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(name="A"), encoding="utf-8")
    log = tmp_path / "daemon.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([LOANWATCH, "--config", str(config), "-v", "run"], stdout=subprocess.DEVNULL,
                                stderr=err)
    try:
        text = lambda: log.read_text(encoding="utf-8")  # noqa: E731
        assert wait_for(lambda: "watching" in text()), text()

        (tmp_path / "spool" / "m.jsonl.tmp").write_text("\n".join(headcount_lines(HEALTHY, "2024-01", "2024-03",
                                                                                 seed=1)) + "\n")
        (tmp_path / "spool" / "m.jsonl.tmp").rename(tmp_path / "spool" / "m.jsonl")
        assert wait_for(lambda: (tmp_path / "spool" / "done" / "m.jsonl").exists()), text()

        config.write_text(CONFIG.format(name="A renamed"), encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "configuration reloaded" in text()), text()

        config.write_text("[global\nbroken", encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reload failed, keeping the old one" in text()), text()
        assert proc.poll() is None  # still running on the old config

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert '"accepted": 3' in text()
