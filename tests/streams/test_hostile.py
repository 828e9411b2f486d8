"""The hostile-input corpus, line by line, and the new rejection classes one at a time.

``hostile/corpus.jsonl`` holds lines a hostile or broken sender could send,
``hostile/expected.csv`` the reason and field each must be rejected with (or
"accepted"). Every line is judged as bytes (a Kafka message), as text (an
HTTP body) and as a file line (``iter_lines``), and every rejection must be
storable as it stands: no NUL, no lone surrogate, no field path longer than
the store's column.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import streams.checks
from streams.contract import MAX_DEPTH, parse_event, validate
from streams.exceptions import EventRejected
from streams.fastpath import fast_event
from streams.records import REJECTION_REASONS, Event, LossyText, Rejection
from streams.sources import iter_lines
from tests.streams.hostile import build

HERE = Path(__file__).resolve().parent / "hostile"
NOW = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)
LINES = (HERE / "corpus.jsonl").read_bytes().split(b"\n")[:-1]
EXPECTED = list(csv.DictReader((HERE / "expected.csv").open(encoding="utf-8")))
CASES = list(zip(LINES, EXPECTED, strict=True))


def storable(r: Rejection) -> None:
    for text in (r.raw, r.detail, r.field or "", r.event_id or "", r.enterprise_id or ""):
        assert "\x00" not in text
        text.encode("utf-8")  # raises on a lone surrogate
    assert r.field is None or len(r.field) <= 100
    assert r.reason in REJECTION_REASONS


def judged(result: Event | Rejection) -> tuple[str, str]:
    if isinstance(result, Event):
        return "accepted", ""
    storable(result)
    return result.reason, result.field or ""


def check(result: Event | Rejection, expected: dict[str, str]) -> None:
    reason, field = judged(result)
    assert reason == expected["reason"], (expected["note"], getattr(result, "detail", None))
    if expected["field"] != "*":
        assert field == expected["field"], expected["note"]


def test_corpus_files_are_what_build_writes() -> None:
    corpus, expected = build.render()
    assert (HERE / "corpus.jsonl").read_bytes() == corpus
    assert (HERE / "expected.csv").read_text(encoding="utf-8") == expected


def test_corpus_covers_every_reason_but_the_internal_one() -> None:
    covered = {e["reason"] for e in EXPECTED}
    assert covered == (set(REJECTION_REASONS) - {"invalid"}) | {"accepted"}


@pytest.mark.parametrize(("line", "expected"), CASES, ids=[e["note"] for e in EXPECTED])
def test_hostile_line_as_bytes_and_as_text(line: bytes, expected: dict[str, str]) -> None:
    as_bytes = validate(line, now=NOW, location="corpus.jsonl:1")
    check(as_bytes, expected)
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        text = LossyText.decode(line)  # what a file source hands over
    as_text = validate(text, now=NOW, location="corpus.jsonl:1")
    check(as_text, expected)
    if expected["reason"] == "too_large" and not expected["field"]:  # the text form cannot count bytes
        assert as_text.detail == "the event is over 64 KiB"  # type: ignore[union-attr]
    else:
        assert as_text == as_bytes
    # the careful path alone judges the same: the fast path only ever accepts what it accepts
    assert validate(line, now=NOW, location="corpus.jsonl:1", fast=False) == as_bytes
    fast = fast_event(line, NOW)
    assert fast is None or fast == as_bytes
    if isinstance(as_bytes, Rejection):
        assert as_bytes.location == "corpus.jsonl:1"
        with pytest.raises(EventRejected) as info:
            parse_event(line, now=NOW, location="corpus.jsonl:1")
        assert info.value.rejection == as_bytes


def test_corpus_through_iter_lines(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    # a valid line first: iter_lines strips a BOM from line 1, and the corpus has a BOM case
    first = json.dumps(build.event(event_id="first"), ensure_ascii=False).encode()
    path.write_bytes(first + b"\n" + b"\n".join(LINES) + b"\n")
    results = [validate(line, now=NOW, location=loc) for loc, line in iter_lines(path)]
    assert isinstance(results[0], Event)
    assert len(results) == len(CASES) + 1
    for result, (_, expected) in zip(results[1:], CASES, strict=True):
        check(result, expected)


# --- the new classes, with their detail texts ------------------------------------------------


def line_of(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False)


def test_out_of_range_details() -> None:
    r = validate(line_of(build.event(data={"insured": 10_000_001})), now=NOW)
    assert (r.reason, r.field, r.detail) == (  # type: ignore[union-attr]
        "out_of_range", "data.insured", "data.insured is 10000001, the maximum is 10,000,000")
    r = validate(line_of(build.event("penalty", {"amount": 10**400})), now=NOW)
    assert r.detail == (  # type: ignore[union-attr]
        "data.amount is an integer of about 401 digits, the maximum is 1,000,000,000,000,000")
    r = validate(line_of(build.event(data={"note": -(2**63) - 1})), now=NOW)
    assert (r.reason, r.field) == ("out_of_range", "data.note")  # type: ignore[union-attr]
    assert "beyond the 64-bit integer range" in r.detail  # type: ignore[union-attr]
    # the 64-bit bounds themselves are fine, and so are the maxima
    for ok in (2**63 - 1, -(2**63)):
        assert isinstance(validate(line_of(build.event(data={"note": ok})), now=NOW), Event)
    assert validate(line_of(build.event(data={"insured": 10_000_000})), now=NOW).data["insured"] == 10_000_000
    assert validate(line_of(build.event("tax_arrears", {"amount": 1e15})), now=NOW).data["amount"] == 1e15


def test_non_finite_numbers_from_python_callers() -> None:
    event = build.event(data={"note": float("inf")})
    r = validate(event, now=NOW)
    assert (r.reason, r.field, r.detail) == (  # type: ignore[union-attr]
        "out_of_range", "data.note", "data.note must be a finite number, got inf")
    event = build.event("registration_change", {"field": "registered_capital", "before": 5, "after": 10**5000})
    r = validate(event, now=NOW)
    assert (r.reason, r.field) == ("out_of_range", "data.after")  # type: ignore[union-attr]
    assert "digits" in r.detail  # type: ignore[union-attr]


def test_depth_limit_at_any_depth() -> None:
    def deep(levels: int) -> Any:
        value: Any = 1
        for _ in range(levels):
            value = [value]
        return value

    inside = MAX_DEPTH - 2  # the event is level 1 and data level 2
    assert isinstance(validate(build.event(data={"x": deep(inside)}), now=NOW), Event)
    r = validate(build.event(data={"x": deep(inside + 1)}), now=NOW)
    assert (r.reason, r.detail) == (  # type: ignore[union-attr]
        "bad_json", "the JSON nests objects and arrays more than 32 levels deep")
    for levels in (1_000, 100_000):  # Python objects handed in: no parser stops them first
        r = validate(build.event(data={"x": deep(levels)}), now=NOW)
        assert r.reason == "bad_json"  # type: ignore[union-attr]
        assert r.raw  # type: ignore[union-attr]
    text = '{"a":' * 100_000 + "1" + "}" * 100_000
    assert validate(text, now=NOW).reason == "too_large"  # type: ignore[union-attr]
    assert validate(text[:60_000], now=NOW).reason == "bad_json"  # type: ignore[union-attr]


def test_a_cycle_is_too_deep_not_a_hang() -> None:
    event = build.event()
    event["data"]["self"] = event["data"]
    r = validate(event, now=NOW)
    assert r.reason == "bad_json"  # type: ignore[union-attr]


def test_bad_utf8_detail_and_raw() -> None:
    raw = line_of(build.event("lawsuit")).encode().replace("借款".encode(), "借款".encode("gbk"))
    r = validate(raw, now=NOW)
    assert r.reason == "bad_utf8"  # type: ignore[union-attr]
    at = raw.index("借款".encode("gbk"))
    assert r.detail == (  # type: ignore[union-attr]
        f"byte {at} (0x{raw[at]:02x}) is not valid UTF-8; send the feed as UTF-8 (was it saved as GBK?)")
    assert r.raw == raw.decode("utf-8", "replace")  # type: ignore[union-attr]
    assert validate(LossyText.decode(raw), now=NOW) == r


def test_surrogate_nul_duplicate_and_padding_details() -> None:
    base = line_of(build.event(event_id="ID"))
    r = validate(base.replace('"ID"', '"e\\ud800"'), now=NOW)
    assert (r.reason, r.field, r.detail) == (  # type: ignore[union-attr]
        "lone_surrogate", "event_id",
        "event_id has a lone UTF-16 surrogate (\\ud800) at position 1; "
        "send the character itself, or both halves of its surrogate pair")
    r = validate(base.replace('"ID"', '"e\\u0000"'), now=NOW)
    assert (r.reason, r.field, r.detail) == (  # type: ignore[union-attr]
        "nul_character", "event_id",
        "event_id has a NUL character (\\u0000) at position 1; PostgreSQL cannot store it")
    r = validate(base.replace('"left": 9', '"left": 9, "left": 0'), now=NOW)
    assert (r.reason, r.field, r.detail) == (  # type: ignore[union-attr]
        "duplicate_key", "data.left", 'data has the key "left" more than once')
    r = validate(base.replace('"ID"', '"ID "'), now=NOW)
    assert (r.reason, r.field, r.detail) == (  # type: ignore[union-attr]
        "padded_field", "event_id", 'event_id "ID " starts or ends with whitespace; send identifiers trimmed')
    assert r.event_id == "ID "  # type: ignore[union-attr]  # as sent, to find it in the dead-letter store


def test_rejections_of_python_text_are_storable() -> None:
    # A caller's str may hold a real NUL or surrogate; the rejection must still go to PostgreSQL.
    r = validate('{"event_id": "\ud800", "x": "\x00"', now=NOW)
    assert r.reason == "bad_json"  # type: ignore[union-attr]
    assert r.raw == '{"event_id": "\ufffd", "x": "\ufffd"'  # type: ignore[union-attr]
    r = validate(build.event(type="\x00\ud800"), now=NOW)
    storable(r)  # type: ignore[arg-type]


def test_values_that_are_not_json_from_python_callers() -> None:
    r = validate(build.event(data={"when": datetime(2024, 1, 1)}), now=NOW)
    assert (r.reason, r.field) == ("bad_field_type", "data.when")  # type: ignore[union-attr]
    assert r.detail == "data.when is a Python datetime, not a JSON value"  # type: ignore[union-attr]
    r = validate(build.event(data={3: "x"}), now=NOW)
    assert r.detail == "data has a key of type number; JSON keys are strings"  # type: ignore[union-attr]


def test_an_error_inside_the_checks_is_a_rejection(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(streams.checks, "_check_data", broken)
    line = line_of(build.event("lawsuit", event_id="odd"))
    monkeypatch.setattr("streams.contract.fast_event", lambda raw, now: None)
    r = validate(line, now=NOW, location="x:1")
    assert (r.reason, r.detail) == (  # type: ignore[union-attr]
        "invalid", "checking the event failed: ZeroDivisionError: division by zero")
    assert (r.raw, r.location, r.event_id) == (line, "x:1", "odd")  # type: ignore[union-attr]
    with pytest.raises(EventRejected):
        parse_event(line, now=NOW)


def test_a_failing_fast_path_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> None:
        raise RuntimeError("fast path bug")

    monkeypatch.setattr("streams.contract.fast_event", broken)
    line = line_of(build.event())
    assert validate(line, now=NOW) == validate(line, now=NOW, fast=False)
    assert isinstance(validate(line, now=NOW), Event)


def test_hostile_mappings_never_raise() -> None:
    class Hostile(Mapping):
        def __getitem__(self, key: str) -> Any:
            raise RuntimeError("boom")

        def __iter__(self) -> Iterator[str]:
            return iter(["event_id", "data"])

        def __len__(self) -> int:
            return 2

    r = validate(Hostile(), now=NOW)  # type: ignore[arg-type]
    assert (r.reason, r.detail) == ("invalid", "checking the event failed: RuntimeError: boom")  # type: ignore[union-attr]
    event = build.event()
    event["data"] = Hostile()
    r = validate(event, now=NOW)
    assert r.reason == "invalid"  # type: ignore[union-attr]
    assert r.event_id == event["event_id"]  # type: ignore[union-attr]
    for odd in ([build.event()], b"\x00" * 10, "\ud800", {"data": {"x": object()}}):
        assert isinstance(validate(odd, now=NOW), Rejection)  # type: ignore[arg-type]
