"""What every ``loanwatch`` command module shares: the root group, the config, the service object.

The command modules (``monitor.cli``, ``monitor.cli_alerts``,
``monitor.cli_kafka``, ``monitor.worker``) import this and never each other,
so there is no import cycle between them. Library errors are turned into
click errors in one place, ``LoanwatchGroup.invoke``: the individual problems
(every bad line, every bad key) one per line on stderr, then one line saying
what to do, with the error's exit code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import click

from detectors.periods import as_utc
from monitor.app import Loanwatch
from monitor.config import Config, load_config
from monitor.exceptions import LoanwatchError
from monitor.paging import Page

__all__ = ["LoanwatchGroup", "config_of", "config_file", "opened", "echo_json", "all_items", "Duration",
           "Timestamp"]

T = TypeVar("T")


class LoanwatchGroup(click.Group):
    """A click group whose commands may raise the library's errors: each becomes a one-line message."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LoanwatchError as exc:
            for line in exc.details:
                click.echo(line, err=True)
            error = click.ClickException(exc.summary)
            error.exit_code = exc.exit_code
            raise error from None


def config_file(ctx: click.Context) -> str:
    return ctx.find_root().obj["config_path"]


def config_of(ctx: click.Context) -> Config:
    """The configuration of this run, loaded (and checked whole) once."""
    obj = ctx.find_root().obj
    if "config" not in obj:
        obj["config"] = load_config(obj["config_path"])
    return obj["config"]


@contextlib.contextmanager
def opened(ctx: click.Context, **kwargs: Any) -> Iterator[Loanwatch]:
    """The service object for one command, closed whatever happens."""
    with Loanwatch(config_of(ctx), **kwargs) as app:
        yield app


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def plain(data: Any) -> Any:
    """Dataclasses (and lists of them) as the dicts ``--json`` prints."""
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return dataclasses.asdict(data)
    if isinstance(data, list | tuple):
        return [plain(x) for x in data]
    if isinstance(data, dict):
        return {k: plain(v) for k, v in data.items()}
    return data


def echo_json(data: Any) -> None:
    click.echo(json.dumps(plain(data), ensure_ascii=False, indent=2, default=_json_default))


def all_items(fetch: Callable[..., Page[T]]) -> list[T]:
    """Every item of a paged listing, page by page."""
    items: list[T] = []
    cursor = None
    while True:
        page = fetch(cursor=cursor)
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return items


class Duration(click.ParamType):
    """``30m``, ``12h``, ``7d``, ``2w``."""

    name = "duration"
    _UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        m = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", str(value))
        if not m:
            self.fail(f"{value!r}: use a number and a unit, e.g. 30m, 12h, 7d, 2w", param, ctx)
        return timedelta(**{self._UNITS[m.group(2)]: int(m.group(1))})


class Timestamp(click.ParamType):
    """An ISO 8601 timestamp; with ``offset_required`` it must carry its UTC offset, else naive means UTC."""

    name = "timestamp"

    def __init__(self, *, offset_required: bool) -> None:
        self.offset_required = offset_required

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            ts = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 timestamp, e.g. 2025-03-01T00:00:00+08:00", param, ctx)
        if ts.tzinfo is None:
            if self.offset_required:
                self.fail(f"{value!r} needs an offset, e.g. 2025-03-01T00:00:00+08:00", param, ctx)
            ts = as_utc(ts)
        return ts
