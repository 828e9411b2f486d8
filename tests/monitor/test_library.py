"""The service object as a library: the README's example runs, every bank-scoped action stays in
its bank, listings page, and both paths that alert a bank (a detection pass, a watchlist change)
go through the one fan-out with the configured policy."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from alerts.watchlist import LoanRow
from detectors.registry import build_detectors
from monitor.app import Loanwatch
from monitor.config import parse_config
from monitor.exceptions import BadWatchlist, InputNotFound, InvalidRequest, NotFound, UnknownBank
from store.models import Delivery
from streams.uscc import complete_uscc
from tests.monitor.events import HEALTHY, SLIDING, headcount_lines, listing_line, watchlist_csv

README = Path(__file__).resolve().parents[2] / "README.md"
NOW = datetime(2025, 1, 20, tzinfo=UTC)
E1, E2, E3 = (complete_uscc(f"91440300MA5F4{i:04d}") for i in range(3))


def _example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Using Loanwatch as a library"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs(tmp_path):
    (tmp_path / "config.toml").write_text(
        '[global]\nstore = "sqlite:///lw.db"\n'
        '[[banks]]\nid = "bank_a"\nname = "A"\n[[banks]]\nid = "bank_b"\nname = "B"\n', encoding="utf-8")
    (tmp_path / "loans.csv").write_text(watchlist_csv([(HEALTHY, "A-1", 1e6), (SLIDING, "A-2", 5e6)]),
                                        encoding="utf-8")
    lines = headcount_lines(HEALTHY, "2024-06", "2024-12", seed=1) + [listing_line(HEALTHY, "2024-12"), "{bad"]
    (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(_example(), "README example", "exec"), {})
    finally:
        os.chdir(cwd)
    printed = out.getvalue()
    assert "2 loans, 0 current findings alerted" in printed
    assert "8 accepted, 1 rejected" in printed
    assert "dishonest_debtor_listed critical" in printed
    assert "'acknowledged', 'commented'" in printed
    assert re.search(r"no alert lw-\w+ for bank bank_b", printed)


def make(url: str, **extra) -> Loanwatch:
    cfg = parse_config({"global": {"store": url}, "banks": [
        {"id": "bank_a", "name": "A", "channels": ["json://127.0.0.1:9/a"]},
        {"id": "bank_b", "name": "B", "locale": "en", "channels": ["json://127.0.0.1:9/b"]}], **extra})
    return Loanwatch(cfg, clock=lambda: NOW, detectors=build_detectors(
        {"abnormal_operation_listed": {"severity": "medium"}},  # context (low) by default; a medium rule here
        only=["dishonest_debtor_listed", "abnormal_operation_listed", "tax_arrears"], corroboration_months=0))


def event(eid: str, type_: str, period: str, **data) -> tuple[str, str]:
    return ("t", json.dumps({"event_id": f"{type_}-{eid}-{period}", "enterprise_id": eid, "type": type_,
                             "occurred_at": f"{period}-10T10:00:00+08:00", "source": "test", "data": data}))


def test_a_bank_reaches_none_of_another_banks_rows(store_url):
    with make(store_url) as lw:
        a, b = lw.bank("bank_a"), lw.bank("bank_b")
        a.watch([LoanRow(E1, "A-1", 1e6, date(2027, 1, 1), "王", None)])
        b.watch([LoanRow(E2, "B-1", 2e6, date(2027, 1, 1), "李", None)])
        lw.ingest([event(E1, "abnormal_operation", "2024-12", status="listed", reason="x")])
        [alert] = a.alerts().items
        silence = a.silence(enterprise_id=E1, reason="talks", author="张", duration=timedelta(days=1))
        assert [x.enterprise_id for x in b.watchlist().items] == [E2]
        assert b.alerts().items == () and lw.alerts().items == (alert,)
        for act in (lambda: b.alert(alert.alert_id), lambda: b.ack(alert.alert_id, by="x"),
                    lambda: b.assign(alert.alert_id, to="y", by="x"), lambda: b.comment(alert.alert_id, "t", by="x"),
                    lambda: b.resolve(alert.alert_id, code="repaid", by="x"),
                    lambda: b.feedback(alert.alert_id, verdict="true_positive", by="x")):
            with pytest.raises(NotFound, match=f"no alert {alert.alert_id} for bank bank_b"):
                act()
        with pytest.raises(NotFound, match=f"no silence #{silence.id} for bank bank_b"):
            b.end_silence(silence.id, by="x")
        with pytest.raises(NotFound, match="nothing matched"):
            b.unwatch(enterprise_id=E1)
        assert b.silences() == [] and b.audit(alert_id=alert.alert_id).items == ()
        assert b.digest().payload["alerts"] == []
        with pytest.raises(UnknownBank, match="unknown bank 'bank_z'; banks in None: bank_a, bank_b"):
            lw.bank("bank_z")
        # the bank's own actions work, and say what they did
        assert a.ack(alert.alert_id, by="张").acknowledged_by == "张"
        assert a.end_silence(silence.id, by="张").state == "ended"
        assert [e.action for e in a.alert(alert.alert_id).audit][-1] == "acknowledged"


def test_listings_page_by_cursor(sqlite_url):
    with make(sqlite_url) as lw:
        a = lw.bank("bank_a")
        firms = [complete_uscc(f"91440300MA5F5{i:04d}") for i in range(5)]
        a.watch(LoanRow(eid, f"L{i}", 1e6, None, None, None) for i, eid in enumerate(firms))
        lw.ingest([event(eid, "abnormal_operation", "2024-12", status="listed", reason="x") for eid in firms])
        for listing in (a.watchlist, a.alerts, a.audit, lw.alerts, lw.audit):
            everything = listing(limit=100).items
            pages, cursor = [], None
            while True:
                page = listing(limit=2, cursor=cursor)
                assert len(page.items) <= 2
                pages.append(page.items)
                cursor = page.next_cursor
                if cursor is None:
                    break
            assert len(everything) >= 5
            seen = [x for p in pages for x in p]
            # the audit trail pages backwards in time (each page oldest first)
            assert sorted(seen, key=repr) == sorted(everything, key=repr) and len(seen) == len(set(map(repr, seen)))
        with pytest.raises(InvalidRequest, match="is not a cursor of this listing"):
            a.alerts(cursor="nonsense")
        with pytest.raises(InvalidRequest, match="limit must be"):
            a.watchlist(limit=0)


def test_bad_input_is_refused_whole_with_every_problem(sqlite_url, tmp_path):
    with make(sqlite_url) as lw:
        a = lw.bank("bank_a")
        bad = watchlist_csv([(HEALTHY, "A-1", 1e6)]) + f"{HEALTHY[:-1]}0,A-2,5,2027-01-01,王,x\n{SLIDING},A-3,-1,x,王,y\n"
        with pytest.raises(BadWatchlist) as info:
            a.import_watchlist(bad, source="loans.csv")
        assert str(info.value) == "loans.csv: 3 problem(s); nothing imported"
        assert [e.split(":")[1] for e in info.value.details] == ["3", "4", "4"]
        assert a.watchlist().items == ()
        with pytest.raises(InvalidRequest, match="arguments: exposure 'lots' is not a number"):
            a.add_loan(HEALTHY, loan_id="A-9", exposure="lots", due_date="2027-01-01")
        with pytest.raises(InputNotFound, match="nope.jsonl: no such file"):
            lw.ingest_files([str(tmp_path / "nope.jsonl")])
        with pytest.raises(InvalidRequest, match="exactly one of expires_at and duration"):
            a.silence(signal="tax_arrears", reason="r", author="x")
        with pytest.raises(InvalidRequest, match="needs a UTC offset"):
            a.silence(signal="tax_arrears", reason="r", author="x", expires_at=datetime(2030, 1, 1))
        a.watch([LoanRow(E3, "A-3", 1e6, None, None, None)])
        lw.ingest([event(E3, "abnormal_operation", "2024-12", status="listed", reason="x")])
        with pytest.raises(InvalidRequest, match="unknown resolution code 'nope'"):
            a.resolve(a.alerts().items[0].alert_id, code="nope", by="x")


def _related_signals(lw: Loanwatch, eid: str) -> dict[str, list[str]]:
    with lw.sessions() as s:
        rows = s.scalars(select(Delivery).where(Delivery.enterprise_id == eid)).all()
    return {d.payload["signal"]: sorted(r["signal"] for r in d.payload.get("related", [])) for d in rows}


def test_watching_an_enterprise_applies_the_configured_inhibit_rules(store_url):
    """A watchlist change and a detection pass tell the bank the same: both go through the one fan-out,
    with the inhibit rules of the configuration (not the default ones)."""
    rules = {"inhibit_rules": [{"source_signals": ["abnormal_operation_listed"], "target_max_severity": "high"}]}
    with make(store_url, **rules) as lw:
        a = lw.bank("bank_a")
        a.watch([LoanRow(E1, "A-1", 1e6, None, None, None)])  # watched before its findings: detection pass
        findings = lambda eid: [event(eid, "abnormal_operation", "2024-12", status="listed", reason="x"),  # noqa: E731
                                event(eid, "tax_arrears", "2024-12", amount=2e6, tax_type="增值税")]
        lw.ingest(findings(E1) + findings(E2))
        update = a.watch([LoanRow(E2, "A-2", 1e6, None, None, None)])  # watched after: watchlist change
        assert sorted(v.signal for v in update.alerted) == ["abnormal_operation_listed", "tax_arrears"]
        expected = {"abnormal_operation_listed": ["tax_arrears"], "tax_arrears": []}
        assert _related_signals(lw, E1) == expected
        assert _related_signals(lw, E2) == expected
