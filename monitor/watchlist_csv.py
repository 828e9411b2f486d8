"""A bank's watchlist CSV, checked at the edge before anything reaches the store.

``enterprise_id,loan_id,exposure,due_date,relationship_manager,name``, header
required. The whole file is checked first and every bad row is reported with
its line number, so a file is never half-imported; what passes becomes typed
``LoanRow`` values that ``alerts.watchlist`` stores without checking again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import date

from alerts.watchlist import LoanRow
from monitor.exceptions import BadWatchlist
from streams.uscc import uscc_problem

__all__ = ["HEADER", "check_row", "parse_watchlist_csv"]

HEADER = ("enterprise_id", "loan_id", "exposure", "due_date", "relationship_manager", "name")
REQUIRED = HEADER[:5]


def check_row(values: Mapping[str, str], where: str) -> tuple[LoanRow | None, list[str]]:
    """One row as a ``LoanRow``, or None and every problem of the row, each prefixed with ``where``."""
    errors = []
    eid = (values.get("enterprise_id") or "").strip().upper()
    problem = uscc_problem(eid)
    if problem:
        errors.append(f"{where}: enterprise_id: {problem[1]}")
    loan = (values.get("loan_id") or "").strip()
    if not loan:
        errors.append(f"{where}: loan_id is empty")
    exposure = None
    try:
        exposure = float((values.get("exposure") or "").replace(",", ""))
        if exposure < 0 or exposure != exposure:
            errors.append(
                f"{where}: exposure must be a non-negative amount in CNY, got {values.get('exposure')!r}"
            )
    except ValueError:
        errors.append(f"{where}: exposure {values.get('exposure')!r} is not a number")
    due = None
    raw_due = (values.get("due_date") or "").strip()
    if raw_due:
        try:
            due = date.fromisoformat(raw_due)
        except ValueError:
            errors.append(f"{where}: due_date {raw_due!r} is not YYYY-MM-DD")
    else:
        errors.append(f"{where}: due_date is empty")
    rm = (values.get("relationship_manager") or "").strip() or None
    name = (values.get("name") or "").strip() or None
    if errors:
        return None, errors
    return LoanRow(eid, loan, float(exposure), due, rm, name), []


def parse_watchlist_csv(text: str, source: str = "watchlist.csv") -> list[LoanRow]:
    """All rows, or ``BadWatchlist`` listing every bad line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [h for h in REQUIRED if h not in header]
    if missing:
        raise BadWatchlist(
            [f"{source}:1: header must have {','.join(HEADER)}; missing {', '.join(missing)}"], source=source
        )
    unknown = [h for h in header if h not in HEADER]
    if unknown:
        raise BadWatchlist([f"{source}:1: unknown column {unknown[0]!r}; valid: {','.join(HEADER)}"],
                           source=source)
    rows, errors, seen = [], [], {}
    for values in reader:
        line = reader.line_num
        values = {(k or "").strip(): v for k, v in values.items()}
        if None in values or "" in values:
            errors.append(f"{source}:{line}: more fields than the header")
            continue
        row, errs = check_row(values, f"{source}:{line}")
        errors.extend(errs)
        if row is not None:
            if row.loan_id in seen:
                errors.append(f"{source}:{line}: loan_id {row.loan_id!r} repeats line {seen[row.loan_id]}")
            seen[row.loan_id] = line
            rows.append(row)
    if errors:
        raise BadWatchlist(errors, source=source)
    return rows
