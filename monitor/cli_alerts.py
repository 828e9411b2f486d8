"""Commands for risk managers: act on alerts, silence, read the digest and the audit trail.

Every command that touches alerts names the bank, and goes through that
bank's ``BankService``: a bank can only reach its own alerts, and another
bank's alert id is answered as "no such alert".
"""

from __future__ import annotations

import json

import click

from monitor.cli_common import Duration, Timestamp, echo_json, opened

__all__ = ["register"]


def _act(ctx: click.Context, bank: str, action: str, alert_id: str, *args, **kwargs) -> None:
    with opened(ctx) as lw:
        state = getattr(lw.bank(bank), action)(alert_id, *args, **kwargs)
    echo_json(state)


@click.group("alert")
def alert_group():
    """Act on one alert: show, ack, assign, comment, resolve, feedback."""


@alert_group.command("show")
@click.argument("bank")
@click.argument("alert_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx, bank, alert_id, as_json):
    """Show ALERT_ID of BANK with its evidence, deliveries and audit trail."""
    with opened(ctx) as lw:
        detail = lw.bank(bank).alert(alert_id)
    if as_json:
        echo_json(detail)
        return
    for key in ("alert_id", "enterprise_id", "signal", "change_period", "severity", "status", "assignee",
                "acknowledged_by", "resolution_code", "feedback", "silenced_by", "inhibited_by"):
        if getattr(detail, key) is not None:
            click.echo(f"{key:<16}{getattr(detail, key)}")
    ev = detail.evidence or {}
    if ev.get("level_before") is not None:
        click.echo(f"{'level':<16}{ev['level_before']} -> {ev['level_after']} ({ev.get('relative_change')})")
    for e in detail.audit:
        click.echo(f"  {e.at.isoformat()[:19]}  {e.actor:<14} {e.action:<16} "
                   f"{json.dumps(e.detail, ensure_ascii=False)}")


@alert_group.command("ack")
@click.argument("bank")
@click.argument("alert_id")
@click.option("--by", required=True, help="Who acknowledges.")
@click.pass_context
def ack(ctx, bank, alert_id, by):
    """Acknowledge: someone has seen it."""
    _act(ctx, bank, "ack", alert_id, by=by)


@alert_group.command("assign")
@click.argument("bank")
@click.argument("alert_id")
@click.option("--to", "to", required=True)
@click.option("--by", required=True)
@click.pass_context
def assign_cmd(ctx, bank, alert_id, to, by):
    """Assign to a person."""
    _act(ctx, bank, "assign", alert_id, to=to, by=by)


@alert_group.command("comment")
@click.argument("bank")
@click.argument("alert_id")
@click.argument("text")
@click.option("--by", required=True)
@click.pass_context
def comment_cmd(ctx, bank, alert_id, text, by):
    """Add a comment (kept in the audit trail)."""
    _act(ctx, bank, "comment", alert_id, text, by=by)


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
    _act(ctx, bank, "resolve", alert_id, code=code, by=by, note=note)


@alert_group.command("feedback")
@click.argument("bank")
@click.argument("alert_id")
@click.option("--verdict", type=click.Choice(["true_positive", "false_positive"]), required=True)
@click.option("--by", required=True)
@click.option("--note", default=None)
@click.pass_context
def feedback_cmd(ctx, bank, alert_id, verdict, by, note):
    """Mark the alert a true or false positive (feeds threshold tuning)."""
    _act(ctx, bank, "feedback", alert_id, verdict=verdict, by=by, note=note)


@click.group("silence")
def silence_group():
    """Silence a bank's alerts for an enterprise and/or a signal, for a while."""


@silence_group.command("add")
@click.argument("bank")
@click.option("--enterprise", default=None, help="USCC of the enterprise.")
@click.option("--signal", default=None)
@click.option("--reason", required=True)
@click.option("--author", required=True)
@click.option("--for", "duration", type=Duration(), default=None, help="How long, e.g. 12h, 7d, 2w.")
@click.option("--until", "until", type=Timestamp(offset_required=True), default=None,
              help="ISO timestamp with offset.")
@click.pass_context
def silence_add(ctx, bank, enterprise, signal, reason, author, duration, until):
    """Create a silence. The bank is told when it expires."""
    with opened(ctx) as lw:
        scope = lw.bank(bank)
        if (duration is None) == (until is None):
            raise click.UsageError("give exactly one of --for and --until")
        sil = scope.silence(enterprise_id=enterprise, signal=signal, reason=reason, author=author,
                            expires_at=until, duration=duration)
    click.echo(f"silence #{sil.id} for {bank} until {until.isoformat() if until else sil.expires_at}")


@silence_group.command("list")
@click.argument("bank")
@click.option("--all", "include_old", is_flag=True, help="Expired and ended ones too.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def silence_list(ctx, bank, include_old, as_json):
    """List BANK's silences."""
    with opened(ctx) as lw:
        rows = lw.bank(bank).silences(include_old=include_old)
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"#{r.id} {r.state:<8} {r.enterprise_id or '*'} {r.signal or '*'} "
                   f"until {r.expires_at[:16]} by {r.author}: {r.reason}")


@silence_group.command("end")
@click.argument("bank")
@click.argument("silence_id", type=int)
@click.option("--by", required=True)
@click.pass_context
def silence_end(ctx, bank, silence_id, by):
    """End a silence now."""
    with opened(ctx) as lw:
        lw.bank(bank).end_silence(silence_id, by=by)
    click.echo(f"silence #{silence_id} ended")


@click.command("digest")
@click.argument("bank")
@click.option("--hours", default=24, show_default=True, help="Look back this many hours.")
@click.option("--send", is_flag=True, help="Queue it to the bank's digest receivers and deliver now.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def digest_cmd(ctx, bank, hours, send, as_json):
    """Print (or send) BANK's digest: its alerts of the last day, ranked by exposure then severity."""
    with opened(ctx) as lw:
        report = lw.bank(bank).digest(hours=hours, send=send)
        if send:
            lw.deliver_all_due()
    if as_json:
        echo_json(report.payload)
    else:
        click.echo(report.message.text)


@click.command("audit")
@click.option("--bank", default=None)
@click.option("--alert", "alert_id", default=None)
@click.option("--enterprise", default=None)
@click.option("--actor", default=None)
@click.option("--action", default=None, help="e.g. opened, escalated, resolved, delivered, delivery_failed, "
                                              "silenced, inhibited, acknowledged, commented")
@click.option("--since", type=Timestamp(offset_required=False), default=None,
              help="ISO timestamp (without an offset: UTC).")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def audit_cmd(ctx, bank, alert_id, enterprise, actor, action, since, limit, as_json):
    """Query the append-only audit trail."""
    with opened(ctx) as lw:
        scope = lw.bank(bank) if bank else lw
        rows = scope.audit(alert_id=alert_id, enterprise_id=enterprise, actor=actor, action=action, since=since,
                           limit=limit).items
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r.at.isoformat()[:19]}  {r.bank_id or '-':<8} {r.alert_id or '-':<24} {r.actor:<12} "
                   f"{r.action:<16} {json.dumps(r.detail, ensure_ascii=False)}")


def register(cli: click.Group) -> None:
    """Add these commands to the root ``loanwatch`` group (twice is harmless)."""
    for command in (alert_group, silence_group, digest_cmd, audit_cmd):
        if command.name not in cli.commands:
            cli.add_command(command)
