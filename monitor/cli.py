"""The ``loanwatch`` command: a thin layer over ``monitor.app.Loanwatch``.

Options are parsed here, the service object is called, and what it returns
is printed; library errors become one-line click errors (``monitor.cli_common``).
The other command modules (``cli_alerts``, ``cli_kafka``, ``worker``) add
their commands to this group below.

Exit codes: 0 done; 1 the request could not be carried out (bad
configuration, bad input, an unknown bank, alert or silence, nothing matched,
the store unreachable, a delivery that finally failed); 2 wrong usage.
``loanwatch worker`` and the Kafka tools document theirs.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from alerts.channels import redact
from alerts.outbox import DispatchStats
from detectors.registry import build_detectors
from detectors.signals import signal_names
from monitor import cli_alerts, cli_kafka, worker
from monitor.cli_common import LoanwatchGroup, all_items, config_file, config_of, echo_json, opened
from monitor.config import default_config_path, load_config
from monitor.demo import run_demo
from monitor.simulate import simulate as simulate_portfolio
from monitor.simulate import write_portfolio
from monitor.tcpd import run_changepoints
from store.db import safe_url

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


@click.group(cls=LoanwatchGroup)
@click.option("--config", "config_path", default=None, metavar="PATH",
              help="Configuration file (default ./config.toml, or $LOANWATCH_CONFIG).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """Loanwatch: post-loan risk monitoring and alerting for banks."""
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path or default_config_path()


# -- ingest / run ----------------------------------------------------------------
def _print_summary(stats, delivery, as_json: bool) -> None:
    data = stats.to_dict()
    data["deliveries"] = {"sent": delivery.sent, "retrying": delivery.retrying, "failed": delivery.failed}
    if as_json:
        echo_json(data)
        return
    click.echo(f"accepted    {data['accepted']}")
    click.echo(f"duplicates  {data['duplicates']}")
    click.echo(f"rejected    {data['rejected_total']}")
    for reason, n in data["rejected"].items():
        click.echo(f"  {reason:<22}{n}")
    click.echo(f"alerts      {sum(data['alerts'].values())}")
    for kind, n in data["alerts"].items():
        click.echo(f"  {kind:<22}{n}")
    click.echo(f"deliveries  sent {delivery.sent}, retrying {delivery.retrying}, failed {delivery.failed}")


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--no-deliver", is_flag=True, help="Record alerts in the outbox but do not send them now.")
@click.option("--backfill", is_flag=True,
              help="Detect once at the end instead of every global.detect_every_events events (much faster "
                   "for bulk history; changes older than global.recent_window_months never alert either way).")
@click.pass_context
def ingest(ctx, files, as_json, no_deliver, backfill):
    """Process JSONL event FILES (or - for stdin), deliver what they raise, print a summary, exit."""
    with opened(ctx) as lw:
        stats = lw.ingest_files(files, detect_every=0 if backfill else None)
        delivery = DispatchStats() if no_deliver else lw.deliver_all_due()
    _print_summary(stats, delivery, as_json)
    if delivery.failed:
        sys.exit(1)


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(allow_dash=True))
@click.option("--spool", "spool_dir", default=None, metavar="DIR",
              help="Spool directory to watch (default: global.spool_dir).")
@click.option("--once", is_flag=True, help="Exit when the spool directory is empty instead of polling.")
@click.pass_context
def run(ctx, files, spool_dir, once):
    """Run the daemon: ingest FILES (or - for stdin), then watch the spool directory and deliver alerts.

    Stops cleanly on SIGTERM or Ctrl-C; SIGHUP reloads the configuration.
    """
    spool = spool_dir or config_of(ctx).spool_dir
    Path(spool).mkdir(parents=True, exist_ok=True)
    path = config_file(ctx)
    with opened(ctx) as lw:
        logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
        logging.getLogger("loanwatch").info("watching %s; store %s", spool, lw.store_url)
        stats = lw.run(spool_dir=spool, files=files, reload=lambda: load_config(path), idle_exit=once)
    click.echo(json.dumps(stats.to_dict(), ensure_ascii=False), err=True)


# -- change points -----------------------------------------------------------------
@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=True))
@click.option("--out", "out", default="-", type=click.Path(allow_dash=True),
              help="Where to write {name: [indices]} (default stdout).")
def changepoints(files, out):
    """Run the default change-point engine on series FILES (TCPD JSON format, or directories of them).

    Writes {"name": [indices]}: the 0-based index where each new segment starts.
    """
    paths = []
    for f in files:
        p = Path(f)
        paths.extend(sorted(p.glob("*.json")) if p.is_dir() else [p])
    try:
        result = run_changepoints([str(p) for p in paths])
    except (ValueError, KeyError) as exc:
        raise click.ClickException(str(exc)) from None
    text = json.dumps(result, indent=1, sort_keys=True)
    if out == "-":
        click.echo(text)
    else:
        Path(out).write_text(text + "\n", encoding="utf-8")


# -- watchlists ---------------------------------------------------------------------
@cli.group()
def watchlist():
    """Manage a bank's watchlist (its loans to monitored enterprises)."""


def _report_new_alerts(update) -> None:
    if update.alerted:
        click.echo(f"{len(update.alerted)} current finding(s) alerted for newly watched enterprises")


@watchlist.command("import")
@click.argument("bank")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--replace", is_flag=True, help="Remove the bank's loans that are not in the file.")
@click.pass_context
def watchlist_import(ctx, bank, csv_file, replace):
    """Import BANK's loans from CSV_FILE (enterprise_id,loan_id,exposure,due_date,relationship_manager,name).

    The whole file is checked first; any bad row is reported by line number and nothing is imported.
    """
    text = Path(csv_file).read_text(encoding="utf-8")
    with opened(ctx) as lw:
        update = lw.bank(bank).import_watchlist(text, source=csv_file, replace=replace)
        lw.deliver_all_due()
    click.echo(f"imported {len(update.loans)} loan(s) for {bank}")
    _report_new_alerts(update)


@watchlist.command("add")
@click.argument("bank")
@click.argument("enterprise_id")
@click.option("--loan-id", required=True)
@click.option("--exposure", required=True, help="Outstanding amount in CNY.")
@click.option("--due-date", required=True, help="YYYY-MM-DD")
@click.option("--manager", "relationship_manager", default="", help="Relationship manager.")
@click.option("--name", default="", help="Enterprise name.")
@click.pass_context
def watchlist_add(ctx, bank, enterprise_id, loan_id, exposure, due_date, relationship_manager, name):
    """Add (or update) one loan of BANK to ENTERPRISE_ID."""
    with opened(ctx) as lw:
        update = lw.bank(bank).add_loan(enterprise_id, loan_id=loan_id, exposure=exposure, due_date=due_date,
                                        relationship_manager=relationship_manager, name=name)
        lw.deliver_all_due()
    row = update.loans[0]
    click.echo(f"{bank} now watches {row.enterprise_id} (loan {row.loan_id})")
    _report_new_alerts(update)


@watchlist.command("remove")
@click.argument("bank")
@click.argument("enterprise_id", required=False)
@click.option("--loan-id", default=None, help="Remove only this loan.")
@click.pass_context
def watchlist_remove(ctx, bank, enterprise_id, loan_id):
    """Stop watching ENTERPRISE_ID for BANK (all its loans, or --loan-id)."""
    with opened(ctx) as lw:
        scope = lw.bank(bank)
        if not enterprise_id and not loan_id:
            raise click.UsageError("give an ENTERPRISE_ID or --loan-id")
        n = scope.unwatch(enterprise_id=enterprise_id, loan_id=loan_id)
    click.echo(f"removed {n} loan(s) from {bank}")


@watchlist.command("list")
@click.argument("bank")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def watchlist_list(ctx, bank, as_json):
    """List BANK's watchlist."""
    with opened(ctx) as lw:
        rows = all_items(lw.bank(bank).watchlist)
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r.enterprise_id}  {r.loan_id:<16} {r.exposure:>14,.0f}  {r.due_date}  "
                   f"{r.relationship_manager or '':<8} {r.name or ''}")
    click.echo(f"{len(rows)} loan(s)", err=True)


# -- alerts and rejected events ---------------------------------------------------------
@cli.command()
@click.option("--bank", default=None, help="Only this bank's alerts.")
@click.option("--status", type=click.Choice(["open", "resolved"]), default=None)
@click.option("--failed", "failed_only", is_flag=True, help="Only alerts with a delivery that finally failed.")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def alerts(ctx, bank, status, failed_only, limit, as_json):
    """List alerts with their delivery status per channel."""
    with opened(ctx) as lw:
        scope = lw.bank(bank) if bank else lw
        rows = scope.alerts(status=status, failed_only=failed_only, limit=limit).items
    if as_json:
        echo_json(rows)
        return
    for a in rows:
        dsum = ", ".join(f"{d.channel}: {d.status}" + (f" ({d.last_error})" if d.last_error else "")
                         for d in a.deliveries) or "no channels"
        click.echo(f"{a.alert_id}  {a.bank_id:<8} {a.severity:<8} {a.status:<8} {a.signal:<26} "
                   f"{a.change_period}  {a.enterprise_id} {a.enterprise_name or ''}")
        click.echo(f"    {dsum}")
    click.echo(f"{len(rows)} alert(s)", err=True)


@cli.command()
@click.option("--reason", default=None, help="Only this rejection reason.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def rejected(ctx, reason, limit, as_json):
    """List rejected events (the dead-letter store) with their reasons."""
    with opened(ctx) as lw:
        report = lw.rejected(reason=reason, limit=limit)
    if as_json:
        echo_json({"counts": report.counts, "events": list(report.page.items)})
        return
    for reason_, n in sorted(report.counts.items()):
        click.echo(f"{reason_:<22}{n}")
    for r in report.page.items:
        click.echo(f"#{r.id} {r.location or '-'}  {r.reason}: {r.detail}")


# -- config ------------------------------------------------------------------------------
@cli.group("config")
def config_group():
    """Check the configuration."""


@config_group.command("check")
@click.pass_context
def config_check(ctx):
    """Validate the whole config file offline, [kafka] included, and list what it found.

    Every problem is listed, one per line with its table and key; the exit code is then 1.
    """
    config = config_of(ctx)
    click.echo(f"config {config.path}: OK as TOML and schema")
    click.echo(f"store  {safe_url(config.store)}")
    click.echo(f"spool  {config.spool_dir}")
    on = build_detectors(config.detectors).signals
    click.echo("signals " + ", ".join(on))
    off = [name for name in signal_names() if name not in on]
    if off:
        click.echo("off     " + ", ".join(off) + "  (turn one on with [detectors.<signal>] enabled = true)")
    for rule in config.inhibit_rules:
        click.echo(f"inhibit while {' or '.join(rule.source_signals)} is open: alerts up to "
                   f"{rule.target_max_severity.label}")
    k = config.kafka
    click.echo(f"kafka  {k.bootstrap} (topics {', '.join(k.topics)}; {k.partitions} partitions, group {k.group_id})")
    for b in config.banks:
        click.echo(f"bank {b.id}: {b.name} ({b.locale}), min severity {b.min_severity.label}, "
                   f"{len(b.channels)} channel(s)")
        for url in b.channels:
            click.echo(f"    {redact(url)}")


# -- simulation and demo ---------------------------------------------------------------------
@cli.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--enterprises", default=300, show_default=True)
@click.option("--months", default=36, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--bad-events", "bad_share", default=0.002, show_default=True, help="Share of malformed lines.")
def simulate(out_dir, enterprises, months, seed, bad_share):
    """Write a synthetic portfolio (events, three banks' watchlists, ground truth) to OUT."""
    portfolio = simulate_portfolio(n_enterprises=enterprises, months=months, seed=seed, bad_event_share=bad_share)
    paths = write_portfolio(portfolio, out_dir)
    for name, p in paths.items():
        click.echo(f"{name:<12} {p}")


@cli.command()
@click.option("--out", "out_dir", default="demo-out", show_default=True, type=click.Path(file_okay=False))
@click.option("--enterprises", default=300, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--quiet", is_flag=True, help="Only the summary, not every alert.")
@click.pass_context
def demo(ctx, out_dir, enterprises, seed, quiet):
    """Simulate a portfolio and run it through the daemon, printing alerts as they are raised."""
    run_demo(config_of(ctx), Path(out_dir), enterprises=enterprises, seed=seed, echo=click.echo, quiet=quiet)


@cli.group()
def db():
    """Store maintenance."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx):
    """Bring the store's schema up to date (also done on every start)."""
    with opened(ctx) as lw:
        click.echo(f"store is at the latest schema: {lw.store_url}")


cli_alerts.register(cli)
cli_kafka.register(cli)
worker.register(cli)


def main() -> None:  # pragma: no cover
    cli(obj={})


if __name__ == "__main__":  # pragma: no cover
    main()
