"""Commands for risk managers: act on alerts, silence, read the digest and the audit trail.

Every command that touches alerts names the bank, and a bank can only reach
its own alerts: another bank's alert id is answered as "no such alert".
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta

import click

__all__ = ["register"]


def _echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _opened(ctx: click.Context):
    from monitor.cli import opened

    return opened(ctx)


def _policy(ctx: click.Context, bank: str):
    from monitor.cli import _policy as policy_of

    return policy_of(ctx, bank)


def _duration(text: str) -> timedelta:
    m = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text)
    if not m:
        raise click.BadParameter(f"{text!r}: use a number and a unit, e.g. 30m, 12h, 7d, 2w")
    n, unit = int(m.group(1)), m.group(2)
    return timedelta(**{{"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]: n})


def _act(ctx: click.Context, bank: str, fn, **kwargs):
    from alerts.actions import ActionError

    _policy(ctx, bank)
    try:
        with _opened(ctx) as app, app.sessions.begin() as s:
            alert = fn(s, bank, now=app.clock(), **kwargs)
            return {"alert_id": alert.id, "status": alert.status, "acknowledged_by": alert.acknowledged_by,
                    "assignee": alert.assignee, "resolution_code": alert.resolution_code, "feedback": alert.feedback}
    except ActionError as exc:
        raise click.ClickException(str(exc)) from None


def register(cli: click.Group) -> None:
    @cli.group("alert")
    def alert_group():
        """Act on one alert: show, ack, assign, comment, resolve, feedback."""

    @alert_group.command("show")
    @click.argument("bank")
    @click.argument("alert_id")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def show(ctx, bank, alert_id, as_json):
        """Show ALERT_ID of BANK with its evidence, deliveries and audit trail."""
        from alerts.actions import ActionError, get_alert
        from alerts.audit import query
        from detectors.severity import Severity
        from store.models import DetectionRow

        _policy(ctx, bank)
        try:
            with _opened(ctx) as app, app.sessions() as s:
                a = get_alert(s, bank, alert_id)
                det = s.get(DetectionRow, a.detection_id)
                trail = [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "detail": e.detail}
                         for e in query(s, alert_id=a.id)]
                data = {"alert_id": a.id, "bank_id": a.bank_id, "enterprise_id": a.enterprise_id, "signal": a.signal,
                        "change_period": a.change_period, "severity": Severity(a.severity).label,
                        "status": a.status, "acknowledged_by": a.acknowledged_by, "assignee": a.assignee,
                        "resolution_code": a.resolution_code, "feedback": a.feedback,
                        "silenced_by": a.silenced_by, "inhibited_by": a.inhibited_by,
                        "evidence": det.evidence if det else None, "audit": trail}
        except ActionError as exc:
            raise click.ClickException(str(exc)) from None
        if as_json:
            _echo_json(data)
            return
        for key in ("alert_id", "enterprise_id", "signal", "change_period", "severity", "status", "assignee",
                    "acknowledged_by", "resolution_code", "feedback", "silenced_by", "inhibited_by"):
            if data[key] is not None:
                click.echo(f"{key:<16}{data[key]}")
        ev = data["evidence"] or {}
        if ev.get("level_before") is not None:
            click.echo(f"{'level':<16}{ev['level_before']} -> {ev['level_after']} ({ev.get('relative_change')})")
        for e in trail:
            click.echo(f"  {e['at'][:19]}  {e['actor']:<14} {e['action']:<16} {json.dumps(e['detail'], ensure_ascii=False)}")

    @alert_group.command("ack")
    @click.argument("bank")
    @click.argument("alert_id")
    @click.option("--by", required=True, help="Who acknowledges.")
    @click.pass_context
    def ack(ctx, bank, alert_id, by):
        """Acknowledge: someone has seen it."""
        from alerts.actions import acknowledge

        _echo_json(_act(ctx, bank, lambda s, b, now: acknowledge(s, b, alert_id, by=by, now=now)))

    @alert_group.command("assign")
    @click.argument("bank")
    @click.argument("alert_id")
    @click.option("--to", "to", required=True)
    @click.option("--by", required=True)
    @click.pass_context
    def assign_cmd(ctx, bank, alert_id, to, by):
        """Assign to a person."""
        from alerts.actions import assign

        _echo_json(_act(ctx, bank, lambda s, b, now: assign(s, b, alert_id, to=to, by=by, now=now)))

    @alert_group.command("comment")
    @click.argument("bank")
    @click.argument("alert_id")
    @click.argument("text")
    @click.option("--by", required=True)
    @click.pass_context
    def comment_cmd(ctx, bank, alert_id, text, by):
        """Add a comment (kept in the audit trail)."""
        from alerts.actions import comment

        _echo_json(_act(ctx, bank, lambda s, b, now: comment(s, b, alert_id, text=text, by=by, now=now)))

    @alert_group.command("resolve")
    @click.argument("bank")
    @click.argument("alert_id")
    @click.option("--code", required=True, help="repaid, restructured, collateral_enforced, written_off, "
                                                 "false_alarm, risk_accepted, returned_to_normal, other")
    @click.option("--by", required=True)
    @click.option("--note", default=None)
    @click.pass_context
    def resolve_cmd(ctx, bank, alert_id, code, by, note):
        """Resolve with a resolution code."""
        from alerts.actions import resolve

        _echo_json(_act(ctx, bank, lambda s, b, now: resolve(s, b, alert_id, code=code, by=by, now=now, note=note)))

    @alert_group.command("feedback")
    @click.argument("bank")
    @click.argument("alert_id")
    @click.option("--verdict", type=click.Choice(["true_positive", "false_positive"]), required=True)
    @click.option("--by", required=True)
    @click.option("--note", default=None)
    @click.pass_context
    def feedback_cmd(ctx, bank, alert_id, verdict, by, note):
        """Mark the alert a true or false positive (feeds threshold tuning)."""
        from alerts.actions import feedback

        _echo_json(_act(ctx, bank, lambda s, b, now: feedback(s, b, alert_id, verdict=verdict, by=by, now=now,
                                                              note=note)))

    @cli.group("silence")
    def silence_group():
        """Silence a bank's alerts for an enterprise and/or a signal, for a while."""

    @silence_group.command("add")
    @click.argument("bank")
    @click.option("--enterprise", default=None, help="USCC of the enterprise.")
    @click.option("--signal", default=None)
    @click.option("--reason", required=True)
    @click.option("--author", required=True)
    @click.option("--for", "duration", default=None, help="How long, e.g. 12h, 7d, 2w.")
    @click.option("--until", "until", default=None, help="ISO timestamp with offset.")
    @click.pass_context
    def silence_add(ctx, bank, enterprise, signal, reason, author, duration, until):
        """Create a silence. The bank is told when it expires."""
        from alerts.silences import SilenceError, add_silence

        _policy(ctx, bank)
        if bool(duration) == bool(until):
            raise click.UsageError("give exactly one of --for and --until")
        try:
            with _opened(ctx) as app:
                now = app.clock()
                expires = now + _duration(duration) if duration else datetime.fromisoformat(until)
                if expires.tzinfo is None:
                    raise click.BadParameter("--until needs an offset, e.g. 2025-03-01T00:00:00+08:00")
                with app.sessions.begin() as s:
                    sil = add_silence(s, bank, enterprise_id=enterprise, signal=signal, reason=reason, author=author,
                                      expires_at=expires.astimezone(UTC), now=now)
                    click.echo(f"silence #{sil.id} for {bank} until {expires.isoformat()}")
        except SilenceError as exc:
            raise click.ClickException(str(exc)) from None

    @silence_group.command("list")
    @click.argument("bank")
    @click.option("--all", "include_old", is_flag=True, help="Expired and ended ones too.")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def silence_list(ctx, bank, include_old, as_json):
        from alerts.silences import list_silences

        _policy(ctx, bank)
        with _opened(ctx) as app, app.sessions() as s:
            rows = [dataclasses.asdict(v) for v in list_silences(s, bank, app.clock(), include_old=include_old)]
        if as_json:
            _echo_json(rows)
            return
        for r in rows:
            click.echo(f"#{r['id']} {r['state']:<8} {r['enterprise_id'] or '*'} {r['signal'] or '*'} "
                       f"until {r['expires_at'][:16]} by {r['author']}: {r['reason']}")

    @silence_group.command("end")
    @click.argument("bank")
    @click.argument("silence_id", type=int)
    @click.option("--by", required=True)
    @click.pass_context
    def silence_end(ctx, bank, silence_id, by):
        """End a silence now."""
        from alerts.silences import SilenceError, end_silence

        _policy(ctx, bank)
        try:
            with _opened(ctx) as app, app.sessions.begin() as s:
                end_silence(s, bank, silence_id, by=by, now=app.clock())
        except SilenceError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"silence #{silence_id} ended")

    @cli.command("digest")
    @click.argument("bank")
    @click.option("--hours", default=24, show_default=True, help="Look back this many hours.")
    @click.option("--send", is_flag=True, help="Queue it to the bank's digest receivers and deliver now.")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def digest_cmd(ctx, bank, hours, send, as_json):
        """Print (or send) BANK's digest: its alerts of the last day, ranked by exposure then severity."""
        from alerts.digest import build_digest, queue_digest, render_digest

        policy = _policy(ctx, bank)
        with _opened(ctx) as app:
            now = app.clock()
            since = now - timedelta(hours=hours)
            with app.sessions.begin() as s:
                payload = (queue_digest(s, policy, now=now, since=since) if send
                           else build_digest(s, policy, since=since, now=now))
            if send:
                app.deliver_all_due()
        if as_json:
            _echo_json(payload)
        else:
            click.echo(render_digest(payload).text)

    @cli.command("audit")
    @click.option("--bank", default=None)
    @click.option("--alert", "alert_id", default=None)
    @click.option("--enterprise", default=None)
    @click.option("--actor", default=None)
    @click.option("--action", default=None, help="e.g. opened, escalated, resolved, delivered, delivery_failed, "
                                                  "silenced, inhibited, acknowledged, commented")
    @click.option("--since", default=None, help="ISO timestamp.")
    @click.option("--limit", default=200, show_default=True)
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def audit_cmd(ctx, bank, alert_id, enterprise, actor, action, since, limit, as_json):
        """Query the append-only audit trail."""
        from alerts.audit import query

        if bank:
            _policy(ctx, bank)
        start = datetime.fromisoformat(since) if since else None
        with _opened(ctx) as app, app.sessions() as s:
            rows = [{"id": e.id, "at": e.at.isoformat(), "bank_id": e.bank_id, "alert_id": e.alert_id,
                     "enterprise_id": e.enterprise_id, "actor": e.actor, "action": e.action, "detail": e.detail}
                    for e in query(s, bank_id=bank, alert_id=alert_id, enterprise_id=enterprise, actor=actor,
                                   action=action, since=start, limit=limit)]
        if as_json:
            _echo_json(rows)
            return
        for r in rows:
            click.echo(f"{r['at'][:19]}  {r['bank_id'] or '-':<8} {r['alert_id'] or '-':<24} {r['actor']:<12} "
                       f"{r['action']:<16} {json.dumps(r['detail'], ensure_ascii=False)}")
