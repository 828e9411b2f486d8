"""Alerts a risk manager can act on, against a real SMTP server and a real HTTP receiver:
bank policies, grouping, inhibition, escalation, recovery, silences, digests, audit."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from alerts.silences import add_silence
from alerts.watchlist import LoanRow
from detectors.registry import build_detectors
from monitor.app import Loanwatch
from monitor.cli import cli
from monitor.config import load_config, parse_config
from store.models import AlertRow, AuditEntry
from streams.uscc import complete_uscc

RULES = ["dishonest_debtor_listed", "consumption_restriction", "abnormal_operation_listed", "tax_arrears",
         "registered_capital_cut", "legal_representative_change"]
# Both are context (low) by default since the evidence score weighs them; these tests use them as medium rules.
MEDIUM_RULES = {"abnormal_operation_listed": {"severity": "medium"}, "registered_capital_cut": {"severity": "high"}}
E1, E2, E3 = (complete_uscc(f"91440300MA5F2{i:04d}") for i in range(3))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def event(eid: str, type_: str, period: str, day: int = 10, **data) -> tuple[str, str]:
    eid_ = f"{type_}-{eid}-{period}-{day}-{json.dumps(data, sort_keys=True)}"
    return ("t", json.dumps({"event_id": eid_, "enterprise_id": eid, "type": type_,
                             "occurred_at": f"{period}-{day:02d}T10:00:00+08:00", "source": "test", "data": data}))


def listing(eid, period, status="listed", day=10):
    return event(eid, "dishonest_debtor", period, day, status=status, case_no="(2025)粤03执9号", court="深圳中院")


def abnormal(eid, period, status="listed", day=10):
    return event(eid, "abnormal_operation", period, day, status=status, reason="未按时公示年报")


def capital_cut(eid, period, before, after, day=10):
    return event(eid, "registration_change", period, day, field="registered_capital", before=before, after=after)


def tax(eid, period, amount, day=10):
    return event(eid, "tax_arrears", period, day, amount=amount, tax_type="增值税")


def make_app(url: str, banks: list[dict], clock: Clock, **extra) -> Loanwatch:
    cfg = parse_config({"global": {"store": url}, "banks": banks, **extra})
    return Loanwatch(cfg, clock=clock, detectors=build_detectors(MEDIUM_RULES, only=RULES,
                                                                                corroboration_months=0))


def watch(app: Loanwatch, bank: str, rows: list[tuple[str, str, float]], due: str | None = "2027-12-31") -> None:
    app.bank(bank).watch(LoanRow(e, loan, exp, date.fromisoformat(due) if due else None, "王经理", f"企业{e[-4:]}")
                         for e, loan, exp in rows)


def bodies(receiver, path=None):
    return [r.json() for r in receiver.requests if path is None or r.path == path]


NOW = datetime(2025, 6, 20, 1, 0, tzinfo=UTC)  # 09:00 in China


def test_two_banks_one_enterprise_each_gets_only_its_own_policy(sqlite_url, http_receiver):
    hook = f"lwhook://127.0.0.1:{http_receiver.port}"
    banks = [
        {"id": "bank_a", "name": "A", "locale": "zh-CN", "min_severity": "medium", "channels": [hook + "/a"]},
        {"id": "bank_b", "name": "B", "locale": "en", "min_severity": "high",
         "signals": ["registered_capital_cut", "dishonest_debtor_listed"],
         "escalate": {"exposure_at_least": 50_000_000}, "channels": [hook + "/b"]},
    ]
    app = make_app(sqlite_url, banks, Clock(NOW))
    watch(app, "bank_a", [(E1, "A-1", 2e6)])
    watch(app, "bank_b", [(E1, "B-1", 4e7), (E1, "B-2", 2e7)])
    app.ingest([abnormal(E1, "2025-05"), capital_cut(E1, "2025-05", 1000.0, 700.0)])
    app.deliver()
    a, b = bodies(http_receiver, "/a"), bodies(http_receiver, "/b")
    # bank A: both medium findings, grouped into one message
    assert len(a) == 1 and {a[0]["signal"], *(r["signal"] for r in a[0]["related"])} == {
        "abnormal_operation_listed", "registered_capital_cut"}
    assert {ln["loan_id"] for ln in a[0]["loans"]} == {"A-1"}
    # bank B: not interested in abnormal operation; the medium cut is high for it (exposure 60M >= 50M)
    assert len(b) == 1 and b[0]["signal"] == "registered_capital_cut" and b[0]["severity"] == "high"
    assert "related" not in b[0] and {ln["loan_id"] for ln in b[0]["loans"]} == {"B-1", "B-2"}
    app.close()


def test_court_listing_leads_carries_lesser_signals_and_holds_later_ones(store_url, http_receiver, smtp_server):
    hook = f"lwhook://127.0.0.1:{http_receiver.port}/a"
    mail = f"mailto://{smtp_server.host}:{smtp_server.port}?from=lw@test.example&to=risk@a.example"
    clock = Clock(NOW)
    app = make_app(store_url, [{"id": "bank_a", "name": "A", "locale": "en", "min_severity": "medium",
                                "channels": [hook, mail]}], clock)
    watch(app, "bank_a", [(E1, "A-1", 3e6)])
    app.ingest([abnormal(E1, "2025-05"), listing(E1, "2025-05", day=12), capital_cut(E1, "2025-05", 1000.0, 700.0)])
    app.deliver()
    [msg] = bodies(http_receiver)
    assert msg["signal"] == "dishonest_debtor_listed" and msg["severity"] == "critical"
    assert sorted(r["signal"] for r in msg["related"]) == ["abnormal_operation_listed", "registered_capital_cut"]
    assert len(smtp_server.messages) == 1
    html = smtp_server.messages[0].part("text/html")
    assert "Other signals on this enterprise" in html and "Registered capital reduced" in html

    # a later lesser finding while the listing is open is held behind it, with the reason in the audit trail
    clock.now += timedelta(days=30)
    app.ingest([tax(E1, "2025-06", 2_000_000)])
    app.deliver()
    assert len(http_receiver.requests) == 1
    with app.sessions() as s:
        held = s.scalars(select(AlertRow).where(AlertRow.signal == "tax_arrears")).one()
        assert held.inhibited_by == msg["alert_id"]
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "inhibited")).one().alert_id == held.id

    # the listing is removed: the bank is told it resolved
    clock.now += timedelta(days=30)
    app.ingest([listing(E1, "2025-07", status="removed")])
    app.deliver()
    last = bodies(http_receiver)[-1]
    assert (last["kind"], last["alert_id"]) == ("resolved", msg["alert_id"])
    app.close()


def test_escalation_then_recovery_are_told(sqlite_url, http_receiver):
    clock = Clock(NOW)
    app = make_app(sqlite_url, [{"id": "bank_a", "name": "A", "locale": "zh-CN", "min_severity": "low",
                                 "channels": [f"lwhook://127.0.0.1:{http_receiver.port}/a"]}], clock)
    watch(app, "bank_a", [(E2, "A-9", 1e6)])
    app.ingest([capital_cut(E2, "2025-05", 1000.0, 750.0)])  # a quarter: medium
    app.deliver()
    clock.now += timedelta(days=1)
    app.ingest([capital_cut(E2, "2025-05", 750.0, 300.0, day=20)])  # same month, now 70 % in all: high
    app.deliver()
    first, second = bodies(http_receiver)
    assert (first["kind"], first["severity"]) == ("new", "medium")
    assert (second["kind"], second["severity"], second["previous_severity"]) == ("escalated", "high", "medium")
    assert second["alert_id"] == first["alert_id"]

    app.ingest([abnormal(E2, "2025-05")])
    app.deliver()
    app.ingest([abnormal(E2, "2025-06", status="removed")])
    app.deliver()
    kinds = [(b["signal"], b["kind"]) for b in bodies(http_receiver)]
    assert kinds[-2:] == [("abnormal_operation_listed", "new"), ("abnormal_operation_listed", "resolved")]
    app.close()


def test_silence_holds_alerts_and_the_bank_is_told_when_it_expires(sqlite_url, smtp_server):
    clock = Clock(NOW)
    mail = f"mailto://{smtp_server.host}:{smtp_server.port}?from=lw@test.example&to=risk@a.example"
    app = make_app(sqlite_url, [{"id": "bank_a", "name": "A", "locale": "en", "min_severity": "medium",
                                 "channels": [mail]}], clock)
    watch(app, "bank_a", [(E3, "A-3", 1e6), (E1, "A-1", 1e6)])
    with app.sessions.begin() as s:
        add_silence(s, "bank_a", enterprise_id=E3, signal=None, reason="restructuring agreed on 2025-06-01",
                    author="张三", expires_at=NOW + timedelta(days=7), now=NOW)
    app.ingest([abnormal(E3, "2025-05"), abnormal(E1, "2025-05")])
    app.deliver()
    assert len(smtp_server.messages) == 1 and E1 in smtp_server.messages[0].part("text/html")
    clock.now += timedelta(days=8)
    app.deliver()
    assert len(smtp_server.messages) == 2
    notice = smtp_server.messages[1]
    assert "Silence expired" in notice.subject
    body = notice.part("text/html")
    assert "restructuring agreed" in body and E3 in body and "张三" in body
    clock.now += timedelta(days=1)
    app.deliver()
    assert len(smtp_server.messages) == 2  # told once
    app.close()


def test_daily_digest_ranked_by_exposure_then_severity(sqlite_url, http_receiver):
    hook = f"lwhook://127.0.0.1:{http_receiver.port}"
    clock = Clock(datetime(2025, 6, 19, 16, 0, tzinfo=UTC))  # 00:00 in China
    banks = [{"id": "bank_a", "name": "A", "locale": "en", "min_severity": "low",
              "receivers": {"urgent": hook + "/urgent", "desk": hook + "/desk"},
              "routes": [{"min_severity": "high", "receivers": ["urgent"]},
                         {"min_severity": "low", "digest": True}],
              "digest": {"receivers": ["desk"], "hour": 8}}]
    app = make_app(sqlite_url, banks, clock)
    watch(app, "bank_a", [(E1, "A-1", 1e6), (E2, "A-2", 9e7), (E3, "A-3", 9e7)])
    app.ingest([abnormal(E1, "2025-05"), abnormal(E2, "2025-05"), tax(E3, "2025-05", 2_000_000),
                capital_cut(E1, "2025-05", 100.0, 10.0)])
    app.deliver()
    urgent = bodies(http_receiver, "/urgent")
    assert sorted(b["enterprise"]["id"] for b in urgent) == sorted([E1, E3])  # the two high findings, now
    assert bodies(http_receiver, "/desk") == []  # medium waits for the digest
    clock.now = datetime(2025, 6, 20, 0, 30, tzinfo=UTC)  # 08:30 in China
    app.deliver()
    [digest] = bodies(http_receiver, "/desk")
    order = [(r["enterprise_id"], r["severity"]) for r in digest["alerts"]]
    # 90M exposure first (high before medium), then the 1M borrower
    assert order == [(E3, "high"), (E2, "medium"), (E1, "high"), (E1, "medium")]
    app.deliver()
    assert len(bodies(http_receiver, "/desk")) == 1  # once a day
    app.close()


def test_audit_trail_is_append_only(store_url):
    clock = Clock(NOW)
    app = make_app(store_url, [{"id": "bank_a", "name": "A", "channels": []}], clock)
    watch(app, "bank_a", [(E1, "A-1", 1e6)])
    app.ingest([abnormal(E1, "2025-05")])
    with app.sessions() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert "opened" in actions and "unrouted" in actions
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), app.engine.begin() as c:
            c.execute(text(statement))
    app.close()


def test_risk_manager_actions_through_the_cli(tmp_path, http_receiver):
    config = tmp_path / "config.toml"
    config.write_text(f"""
[global]
store = "sqlite:///lw.db"
[[banks]]
id = "bank_a"
name = "A"
channels = ["lwhook://127.0.0.1:{http_receiver.port}/a"]
[[banks]]
id = "bank_b"
name = "B"
""", encoding="utf-8")
    app = Loanwatch(load_config(config), detectors=build_detectors(MEDIUM_RULES, only=RULES,
                                                                                corroboration_months=0))
    watch(app, "bank_a", [(E1, "A-1", 1e6)])
    app.ingest([listing(E1, "2025-05")])
    app.close()

    def lw(*args, ok=True):
        r = CliRunner().invoke(cli, ["--config", str(config), *args], obj={})
        assert (r.exit_code == 0) == ok, r.output
        return r

    [alert] = json.loads(lw("alerts", "--json").stdout)
    aid = alert["alert_id"]
    lw("alert", "ack", "bank_a", aid, "--by", "李四")
    lw("alert", "assign", "bank_a", aid, "--to", "王五", "--by", "李四")
    lw("alert", "comment", "bank_a", aid, "已约谈企业法人", "--by", "王五")
    lw("alert", "feedback", "bank_a", aid, "--verdict", "true_positive", "--by", "王五")
    lw("alert", "resolve", "bank_a", aid, "--code", "restructured", "--by", "王五")
    assert "unknown resolution code" in lw("alert", "resolve", "bank_a", aid, "--code", "nope", "--by", "x",
                                           ok=False).output
    # another bank cannot see or touch it
    assert f"no alert {aid} for bank bank_b" in lw("alert", "ack", "bank_b", aid, "--by", "x", ok=False).output
    shown = json.loads(lw("alert", "show", "bank_a", aid, "--json").stdout)
    assert (shown["status"], shown["assignee"], shown["resolution_code"], shown["feedback"]) == (
        "resolved", "王五", "restructured", "true_positive")
    trail = [(e["actor"], e["action"]) for e in shown["audit"]]
    assert trail[-5:] == [("李四", "acknowledged"), ("李四", "assigned"), ("王五", "commented"),
                          ("王五", "feedback"), ("王五", "resolved")]
    audit = json.loads(lw("audit", "--bank", "bank_a", "--actor", "王五", "--json").stdout)
    assert [e["action"] for e in audit] == ["commented", "feedback", "resolved"]
    assert json.loads(lw("audit", "--bank", "bank_b", "--json").stdout) == []

    lw("silence", "add", "bank_a", "--enterprise", E2, "--reason", "展期谈判中", "--author", "李四", "--for", "7d")
    [sil] = json.loads(lw("silence", "list", "bank_a", "--json").stdout)
    assert (sil["enterprise_id"], sil["state"], sil["author"]) == (E2, "active", "李四")
    assert "needs an enterprise, a signal, or both" in lw("silence", "add", "bank_a", "--reason", "x", "--author",
                                                         "y", "--for", "1d", ok=False).output
    lw("silence", "end", "bank_a", str(sil["id"]), "--by", "李四")
    assert json.loads(lw("silence", "list", "bank_a", "--json").stdout) == []
