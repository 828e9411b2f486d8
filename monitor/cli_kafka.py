"""Kafka commands of ``loanwatch``: ``topics create``, ``publish``, ``dlq list|replay`` and ``broker``.

They read the ``[kafka]`` table of the same file as the other commands
(``--config``), loaded and checked whole with it by ``monitor.config``;
``$LOANWATCH_KAFKA_BOOTSTRAP`` overrides ``kafka.bootstrap``.

Exit codes, so that scripts can tell "fix the data" from "try again later":

- 0: done.
- 1: bad input: a line failed the contract (nothing was published), a bad
  configuration file (``[kafka]`` or any other table), a missing file.
- 2: wrong usage (click's own code).
- 3: Kafka: the broker did not answer within ``kafka.timeout_seconds``, a
  topic is missing, or the broker refused a record.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from monitor.cli_common import config_of
from streams.broker import BrokerError, TansuBroker
from streams.kafka_config import KafkaSettings
from streams.kafka_tools import (
    BadLine,
    KafkaToolError,
    check_lines,
    create_topics,
    dlq_list,
    dlq_replay,
    publish_lines,
)
from streams.sources import iter_lines

__all__ = ["EXIT_BAD_INPUT", "EXIT_KAFKA", "register"]

EXIT_BAD_INPUT = 1
EXIT_KAFKA = 3


class KafkaCommandError(click.ClickException):
    exit_code = EXIT_KAFKA


def _settings(ctx: click.Context) -> KafkaSettings:
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        # kafka-python logs at ERROR what these commands already report in one clear line
        # (and some noise, e.g. a cancelled metadata refresh when a consumer closes).
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
    return config_of(ctx).kafka


def _fail(exc: KafkaToolError) -> click.ClickException:
    if isinstance(exc, BadLine):
        return click.ClickException(str(exc))
    return KafkaCommandError(str(exc))


def _lines(files: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    for f in files:
        yield from iter_lines(f)


def _check_files(files: tuple[str, ...]) -> None:
    for f in files:
        if f != "-" and not Path(f).is_file():
            raise click.ClickException(f"{f}: no such file")


class _NoBar:
    def update(self, n: int) -> None:
        pass


@contextlib.contextmanager
def _progress(total: int | None, label: str) -> Iterator[Any]:
    """A progress bar on stderr, so stdout keeps only the summary (and ``--json`` stays parseable).

    Standard input has no known length, so it gets no bar.
    """
    if total is None:
        yield _NoBar()
        return
    with click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True, show_pos=True) as bar:
        yield bar


# -- topics ------------------------------------------------------------------------------
@click.group("topics")
def topics() -> None:
    """Kafka topics of Loanwatch (names and partition count from the [kafka] table)."""


@topics.command("create")
@click.pass_context
def topics_create(ctx: click.Context) -> None:
    """Create the events, alerts and dead-letter topics; existing topics are left unchanged."""
    settings = _settings(ctx)
    try:
        result = create_topics(settings)
    except KafkaToolError as exc:
        raise _fail(exc) from None
    for t in result:
        state = "created" if t.created else "exists "
        click.echo(f"{state} {t.name}  ({t.partitions} partitions)" + (f"  WARNING: {t.problem}" if t.problem else ""))


# -- publish -----------------------------------------------------------------------------
@click.command("publish")
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--batch", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Lines sent and acknowledged together before the next are read.")
@click.option("--skip-bad", is_flag=True,
              help="Send lines that fail the contract to the dead-letter topic and go on, instead of stopping.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def publish(ctx: click.Context, files: tuple[str, ...], batch: int, skip_bad: bool, as_json: bool) -> None:
    """Publish JSONL event FILES to the events topic, keyed by enterprise_id.

    Every line is checked against the event contract first: if any line is
    bad, the bad lines are listed (file:line and reason) and nothing is
    published (exit 1). With --skip-bad the bad lines go to the dead-letter
    topic instead and the rest is published. Standard input (-) is read
    once, so it is checked as it is sent: a bad line stops the publish there,
    after the batches before it.
    """
    _check_files(files)
    settings = _settings(ctx)
    total: int | None = None
    if "-" not in files:
        if skip_bad:
            total = sum(1 for _ in _lines(files))
        else:
            total, n_bad, bad = check_lines(_lines(files))
            if n_bad:
                for r in bad:
                    click.echo(str(r), err=True)
                shown = f" (first {len(bad)} shown)" if n_bad > len(bad) else ""
                raise click.ClickException(f"{n_bad} bad line(s){shown}; nothing was published")
    try:
        with _progress(total, "publishing") as bar:
            stats = publish_lines(settings, _lines(files), batch=batch, progress=bar.update, skip_bad=skip_bad)
    except KafkaToolError as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps(stats.to_dict() | {"topic": settings.events_topic}, ensure_ascii=False))
        return
    rate = stats.published / stats.seconds if stats.seconds > 0 else 0.0
    click.echo(f"published {stats.published} event(s) to {settings.events_topic} on {len(stats.partitions)} "
               f"partition(s) in {stats.seconds:.1f} s ({rate:,.0f}/s)")
    if stats.dead_lettered:
        click.echo(f"sent {stats.dead_lettered} bad line(s) to {settings.dlq_topic}")


# -- dead letters --------------------------------------------------------------------------
@click.group("dlq")
def dlq() -> None:
    """The dead-letter topic: events the contract rejected, with the reason."""


@dlq.command("list")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--reason", default=None, help="Only this rejection reason (e.g. bad_check_character).")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON record per line (raw, reason, detail, location, ...); edit raw and feed the "
                   "file to `dlq replay --from-file`.")
@click.pass_context
def dlq_list_cmd(ctx: click.Context, limit: int, reason: str | None, as_json: bool) -> None:
    """List dead-lettered events, oldest first, without moving any consumer offset."""
    settings = _settings(ctx)
    try:
        rows = dlq_list(settings, limit, reason=reason)
    except KafkaToolError as exc:
        raise _fail(exc) from None
    for r in rows:
        if as_json:
            click.echo(json.dumps(r, ensure_ascii=False))
        else:
            click.echo(f"{r['timestamp']}  {r.get('location') or '-'}  {r.get('reason')}: {r.get('detail')}")
            click.echo(f"    {_short(r.get('raw') or '')}")
    click.echo(f"{len(rows)} record(s) from {settings.dlq_topic}", err=True)


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dlq.command("replay")
@click.option("--reason", default=None, help="Only records rejected for this reason.")
@click.option("--from-file", "from_file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Publish fixed lines from this file (events, or `dlq list --json` records with raw "
                   "edited) instead of reading the DLQ topic.")
@click.option("--force", is_flag=True, help="Also re-send DLQ records that still fail the contract.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def dlq_replay_cmd(ctx: click.Context, reason: str | None, from_file: str | None, force: bool,
                   as_json: bool) -> None:
    """Re-publish dead-lettered events to the events topic.

    Records that still fail the contract are left in the DLQ (and counted)
    unless --force. Replaying twice is harmless: the pipeline ignores an
    event_id it has seen. The DLQ topic itself is never modified.
    """
    if from_file and (reason or force):
        raise click.UsageError("--from-file replays the file's lines; --reason and --force apply to the DLQ topic")
    settings = _settings(ctx)
    started = time.monotonic()
    try:
        if from_file:
            total = sum(1 for _ in iter_lines(from_file))
            with _progress(total, "replaying") as bar:
                stats = dlq_replay(settings, from_file=iter_lines(from_file), progress=bar.update)
        else:
            stats = dlq_replay(settings, reason=reason, force=force)
    except KafkaToolError as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps(stats.to_dict(), ensure_ascii=False))
        return
    click.echo(f"replayed {stats.replayed} of {stats.read} record(s) to {settings.events_topic} "
               f"in {time.monotonic() - started:.1f} s")
    if stats.still_bad:
        reasons = ", ".join(f"{k} {v}" for k, v in stats.still_bad_reasons.items())
        verb = "re-sent anyway (--force)" if force else "left in the DLQ"
        click.echo(f"{stats.still_bad} still fail the contract, {verb}: {reasons}")


# -- a dev broker ---------------------------------------------------------------------------
@click.command("broker")
@click.option("--port", default=9092, show_default=True, type=click.IntRange(0, 65535),
              help="Loopback port to listen on (0: any free port).")
@click.option("--create-topics/--no-create-topics", "make_topics", default=True, show_default=True,
              help="Create the [kafka] topics once the broker is up.")
@click.pass_context
def broker(ctx: click.Context, port: int, make_topics: bool) -> None:
    """Run a throw-away Kafka-compatible broker (Tansu, in memory) for development, until Ctrl-C.

    Data is lost when it stops. Point the other commands at it with
    LOANWATCH_KAFKA_BOOTSTRAP=127.0.0.1:PORT.
    """
    def stop_on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # so that `finally` stops the broker, as Ctrl-C does

    signal.signal(signal.SIGTERM, stop_on_term)
    b = TansuBroker(port=port or None)
    try:
        bootstrap = b.start()
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        click.echo(f"Tansu broker on {bootstrap} (memory storage; Ctrl-C stops it)")
        click.echo(f"export LOANWATCH_KAFKA_BOOTSTRAP={bootstrap}")
        if make_topics:
            try:
                config_path = (ctx.find_root().obj or {}).get("config_path")
                base = _settings(ctx) if config_path and Path(config_path).is_file() else KafkaSettings()
                settings = replace(base, bootstrap=bootstrap)
                for t in create_topics(settings):
                    click.echo(f"created {t.name} ({t.partitions} partitions)")
            except KafkaToolError as exc:
                raise _fail(exc) from None
        while b.process is not None and b.process.poll() is None:
            time.sleep(0.5)
        raise KafkaCommandError("the broker exited on its own")
    except KeyboardInterrupt:
        pass
    finally:
        b.stop()


def register(cli_group: click.Group) -> None:
    """Add the Kafka commands to the root ``loanwatch`` group (twice is harmless)."""
    for command in (topics, publish, dlq, broker):
        if command.name not in cli_group.commands:
            cli_group.add_command(command)

