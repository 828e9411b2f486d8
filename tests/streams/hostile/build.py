"""Writes the hostile-input corpus: ``corpus.jsonl`` and, line for line, ``expected.csv``.

Each case is one line a hostile or broken sender could put on the wire, and
the reason (and field) the contract must reject it with; a few lines are
valid but look hostile (a surrogate pair, a padded text that is not an
identifier) and must be accepted. The lines are built here from readable
parts because several of them are not text an editor can hold (invalid UTF-8,
a NUL byte, 200 KB of brackets); the files are committed so that any tool can
read them (``loanwatch ingest tests/streams/hostile/corpus.jsonl``), and
``test_hostile.py`` checks that they are what this script writes.

Run from the repository root: ``python tests/streams/hostile/build.py``.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from streams.uscc import complete_uscc  # noqa: E402

HERE = Path(__file__).resolve().parent
EID = complete_uscc("91440300MA5FH0XT1")
OTHER = complete_uscc("91440300MA5FH0XT2")

BASE: dict[str, dict[str, Any]] = {
    "headcount": {"period": "2024-03", "insured": 132, "joined": 4, "left": 9},
    "utility": {"period": "2024-03", "kind": "electricity", "amount": 48210.5, "unit": "kWh"},
    "housing_fund": {"period": "2024-03", "contributors": 120, "amount": 96000},
    "lawsuit": {"case_no": "(2024)粤0305民初1234号", "role": "defendant", "cause": "借款合同纠纷",
                "amount": 1200000.5, "court": "深圳市南山区人民法院", "stage": "filed"},
    "penalty": {"decision_no": "深环罚〔2024〕12号", "authority": "深圳市生态环境局", "reason": "超标排放",
                "amount": 50000},
    "tax_arrears": {"amount": 230000.0, "tax_type": "增值税"},
    "dishonest_debtor": {"status": "listed", "case_no": "(2024)粤0305执5678号", "court": "南山区人民法院"},
    "consumption_restriction": {"status": "issued", "case_no": "(2024)粤0305执5678号"},
    "abnormal_operation": {"status": "listed", "reason": "通过登记的住所无法联系"},
    "registration_change": {"field": "legal_representative", "before": "张三", "after": "李四"},
    "enterprise_profile": {"industry": "C", "region": "440305", "registered_capital": 5000000.0,
                           "established": "2012-05-18", "name": "深圳市南山测试电子有限公司"},
}

_serial = 0


def event(type_: str = "headcount", data: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    global _serial
    _serial += 1
    out = {"event_id": f"hostile-{_serial:03d}", "enterprise_id": EID, "type": type_,
           "occurred_at": "2024-03-31T23:59:59+08:00", "source": "hostile"}
    out["data"] = {**BASE[type_], **(data or {})}
    out.update(top)
    return out


def text(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def enc(obj: Any) -> bytes:
    return text(obj).encode()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def with_raw(obj: dict[str, Any], marker: str, raw: str) -> bytes:
    """The event's text with the string ``marker`` replaced by raw JSON text (what json.dumps cannot write)."""
    line = text(obj)
    assert f'"{marker}"' in line, marker
    return line.replace(f'"{marker}"', raw).encode()


def drop(obj: dict[str, Any], *path: str) -> dict[str, Any]:
    inner = obj
    for key in path[:-1]:
        inner = inner[key]
    del inner[path[-1]]
    return obj


def cases() -> list[tuple[str, str, str, bytes]]:
    """(note, expected reason or "accepted", expected field ("*": not checked), the line's bytes)."""
    global _serial
    _serial = 0
    big = "1" + "0" * 400
    out: list[tuple[str, str, str, bytes]] = [
        # --- numbers that do not fit, or are over a stated maximum ---
        ("headcount of 10^400", "out_of_range", "data.insured", with_raw(event(data={"insured": "N"}), "N", big)),
        ("joiners over 10,000,000", "out_of_range", "data.joined", enc(event(data={"joined": 10_000_001}))),
        ("tax arrears of 10^400 CNY", "out_of_range", "data.amount",
         with_raw(event("tax_arrears", {"amount": "N"}), "N", big)),
        ("tax arrears of 1e400 (inf in Python)", "bad_field_type", "data.amount",
         with_raw(event("tax_arrears", {"amount": "N"}), "N", "1e400")),
        ("lawsuit over 1e15 CNY", "out_of_range", "data.amount", enc(event("lawsuit", {"amount": 2e15}))),
        ("utility amount just over the maximum", "out_of_range", "data.amount",
         with_raw(event("utility", {"amount": "N"}), "N", "1000000000000000.5")),
        ("400-digit integer in an extra data field", "out_of_range", "data.note",
         with_raw(event(data={"note": "N"}), "N", big)),
        ("1e400 in an extra top-level field", "out_of_range", "trace",
         with_raw(event(trace="N"), "N", "1e400")),
        ("-1e400 deep in an extra array", "out_of_range", "data.extra[1][0]",
         with_raw(event(data={"extra": [1, ["N"]]}), "N", "-1e400")),
        ("registered capital of 10^400", "out_of_range", "data.after",
         with_raw(event("registration_change", {"field": "registered_capital", "before": 5, "after": "N"}),
                  "N", big)),
        ("registered capital text over the maximum", "out_of_range", "data.after",
         enc(event("registration_change", {"field": "registered_capital", "before": "5", "after": "2e15"}))),
        ("registered capital text that overflows", "bad_field_type", "data.before",
         enc(event("registration_change", {"field": "registered_capital", "before": "1e400", "after": "5"}))),
        ("shareholder before-value of 10^400", "out_of_range", "data.before",
         with_raw(event("registration_change", {"field": "shareholder", "before": "N"}), "N", big)),
        ("5,000-digit integer", "out_of_range", "",
         with_raw(event(data={"note": "N"}), "N", "9" * 5000)),
        ("NaN literal", "bad_json", "", with_raw(event("utility", {"amount": "N"}), "N", "NaN")),
        ("Infinity literal", "bad_json", "", with_raw(event("utility", {"amount": "N"}), "N", "Infinity")),
        ("-Infinity in an extra field", "bad_json", "", with_raw(event(data={"x": "N"}), "N", "-Infinity")),
        ("count as 1e2 (a float)", "bad_field_type", "data.left", with_raw(event(data={"left": "N"}), "N", "1e2")),
        # --- nesting ---
        ("33 levels in data", "bad_json", "data.extra" + "[0]" * 30,
         with_raw(event(data={"extra": "N"}), "N", nested(31))),
        # the standard library's parser may run out of stack first, then no field is named
        ("950 levels in data", "bad_json", "*",
         with_raw(event(data={"extra": "N"}), "N", nested(949))),
        ("40 levels of objects", "bad_json", "a" + ".a" * 31, ('{"a":' * 40 + "1" + "}" * 40).encode()),
        ("10,000 levels of arrays", "bad_json", "", nested(10_000).encode()),
        ("30,000 levels, unclosed", "bad_json", "", ("[" * 30_000).encode()),
        ("100,000 levels (over 64 KiB)", "too_large", "", nested(100_000).encode()),
        # --- bytes that are not UTF-8 ---
        ("a 0xff byte in a string", "bad_utf8", "", enc(event("lawsuit")).replace("借款".encode(), b"\xff")),
        ("GBK-encoded cause", "bad_utf8", "",
         text(event("lawsuit", {"cause": "GBKMARK"})).encode().replace(b"GBKMARK", "借款合同纠纷".encode("gbk"))),
        ("truncated multi-byte character", "bad_utf8", "",
         enc(event("penalty")).replace("排放".encode(), "排放".encode()[:4])),
        ("overlong encoding of /", "bad_utf8", "", enc(event(source="a-SLASH-b")).replace(b"-SLASH-", b"\xc0\xaf")),
        ("UTF-8 encoded surrogate (CESU-8)", "bad_utf8", "",
         enc(event("lawsuit")).replace("借款".encode(), b"\xed\xa0\x80")),
        # --- lone surrogates ---
        ("lone high surrogate in event_id", "lone_surrogate", "event_id",
         with_raw(event(event_id="X"), "X", '"ev-\\ud800"')),
        ("lone low surrogate in cause", "lone_surrogate", "data.cause",
         with_raw(event("lawsuit", {"cause": "X"}), "X", '"\\udc00纠纷"')),
        ("high surrogate then a letter", "lone_surrogate", "data.court",
         with_raw(event("lawsuit", {"court": "X"}), "X", '"\\ud83dx"')),
        ("lone surrogate in a key", "lone_surrogate", "data",
         text(event()).replace('"period"', '"per\\udfffiod":1,"period"').encode()),
        ("lone surrogate in enterprise_id", "lone_surrogate", "enterprise_id",
         with_raw(event(enterprise_id="X"), "X", '"' + EID[:17] + '\\ud800"')),
        ("surrogate pair for an emoji", "accepted", "",
         with_raw(event("lawsuit", {"cause": "X"}), "X", '"\\ud83d\\ude00借款合同纠纷"')),
        # --- NUL ---
        ("NUL escape in event_id", "nul_character", "event_id", with_raw(event(event_id="X"), "X", '"a\\u0000b"')),
        ("NUL escape in court", "nul_character", "data.court",
         with_raw(event("dishonest_debtor", {"court": "X"}), "X", '"法院\\u0000"')),
        ("NUL escape in source", "nul_character", "source", with_raw(event(source="X"), "X", '"\\u0000"')),
        ("NUL escape in a key", "nul_character", "data",
         text(event()).replace('"period"', '"x\\u0000":1,"period"').encode()),
        ("raw NUL byte inside a string", "bad_json", "", enc(event(source="a-NUL-b")).replace(b"-NUL-", b"\x00")),
        ("escaped backslash before u0000 is no NUL", "accepted", "",
         with_raw(event("lawsuit", {"cause": "X"}), "X", '"\\\\u0000纠纷"')),
        # --- repeated keys ---
        ("event_id twice", "duplicate_key", "event_id",
         text(event()).replace('"enterprise_id"', '"event_id":"hostile-other","enterprise_id"').encode()),
        ("data.left twice", "duplicate_key", "data.left",
         text(event()).replace('"left":9', '"left":9,"left":0').encode()),
        ("data.left twice, space before the colon", "duplicate_key", "data.left",
         text(event()).replace('"left":9', '"left":9,"left" :0').encode()),
        ("data.left twice, one spelled with an escape", "duplicate_key", "data.left",
         text(event()).replace('"left":9', '"left":9,"le\\u0066t":0').encode()),
        ("type twice", "duplicate_key", "type",
         text(event()).replace('"source"', '"type":"lawsuit","source"').encode()),
        ("key twice in a nested extra object", "duplicate_key", "data.meta.k",
         text(event(data={"meta": {"k": 1}})).replace('"k":1', '"k":1,"k":2').encode()),
        ("key twice, a compensating quote-colon in a value", "duplicate_key", "data.left",
         text(event(source='s":x')).replace('"left":9', '"left":9,"left" :0').encode()),
        # --- identifiers with surrounding whitespace ---
        ("event_id with a leading space", "padded_field", "event_id", enc(event(event_id=" hostile-pad-1"))),
        ("event_id with a trailing tab", "padded_field", "event_id", enc(event(event_id="hostile-pad-2\t"))),
        ("event_id with a no-break space", "padded_field", "event_id", enc(event(event_id="hostile-pad-3\u00a0"))),
        ("source with a trailing space", "padded_field", "source", enc(event(source="hostile "))),
        ("case_no with a leading space", "padded_field", "data.case_no",
         enc(event("lawsuit", {"case_no": " (2024)粤0305民初1234号"}))),
        ("decision_no with an ideographic space", "padded_field", "data.decision_no",
         enc(event("penalty", {"decision_no": "深环罚〔2024〕12号\u3000"}))),
        ("enterprise_id with a trailing space", "bad_enterprise_id", "enterprise_id",
         enc(event(enterprise_id=EID + " "))),
        ("padded cause (not an identifier)", "accepted", "", enc(event("lawsuit", {"cause": " 借款合同纠纷 "}))),
        # --- the reasons the contract had before ---
        ("over 64 KiB", "too_large", "", enc(event(data={"note": "x" * 70_000}))),
        ("event_id of 201 characters", "too_large", "event_id", enc(event(event_id="e" * 201))),
        ("truncated JSON", "bad_json", "", enc(event())[:60]),
        ("a BOM in the middle of a file", "bad_json", "", "\ufeff".encode() + enc(event())),
        ("a JSON array", "not_an_object", "", b"[1,2]"),
        ("a JSON string", "not_an_object", "", b'"headcount"'),
        ("no occurred_at", "missing_field", "occurred_at", enc(drop(event(), "occurred_at"))),
        ("no data.period", "missing_field", "data.period", enc(drop(event(), "data", "period"))),
        ("insured as a string", "bad_field_type", "data.insured", enc(event(data={"insured": "132"}))),
        ("source as a number", "bad_field_type", "source", enc(event(source=7))),
        ("whitespace-only court", "empty_field", "data.court", enc(event("lawsuit", {"court": "  "}))),
        ("unknown type", "unknown_type", "type",
         enc(event() | {"type": "subsidy", "data": {"period": "2024-03", "amount": 5.0}})),
        ("19-character enterprise_id", "bad_enterprise_id", "enterprise_id", enc(event(enterprise_id=EID + "0"))),
        ("flipped check character", "bad_check_character", "enterprise_id",
         enc(event(enterprise_id=EID[:-1] + ("0" if EID[-1] != "0" else "1")))),
        ("utility kind steam", "bad_enum", "data.kind", enc(event("utility", {"kind": "steam"}))),
        ("negative leavers", "negative_value", "data.left", enc(event(data={"left": -9}))),
        ("month 13", "bad_period", "data.period", enc(event(data={"period": "2024-13"}))),
        ("period in 2099", "future_period", "data.period", enc(event(data={"period": "2099-01"}))),
        ("occurred_at without offset", "bad_timestamp", "occurred_at",
         enc(event("penalty", occurred_at="2024-03-31T23:59:59"))),
        ("occurred_at in 2099", "future_timestamp", "occurred_at",
         enc(event("penalty", occurred_at="2099-01-01T00:00:00+08:00"))),
        # --- valid lines that take the careful path ---
        ("valid, with spaces after the separators", "accepted", "",
         json.dumps(event("utility"), ensure_ascii=False).encode()),
        ("valid, with an extra field", "accepted", "", enc(event(trace_id="abc"))),
        ("valid, 32 levels in an extra field", "accepted", "",
         with_raw(event(data={"extra": "N"}), "N", nested(30))),
    ]
    return out


def render() -> tuple[bytes, str]:
    lines = []
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["line", "reason", "field", "note"])
    for number, (note, reason, field, line) in enumerate(cases(), 1):
        assert b"\n" not in line and b"\r" not in line, note
        lines.append(line)
        writer.writerow([number, reason, field, note])
    return b"\n".join(lines) + b"\n", buffer.getvalue()


def main() -> None:
    corpus, expected = render()
    (HERE / "corpus.jsonl").write_bytes(corpus)
    (HERE / "expected.csv").write_text(expected, encoding="utf-8")
    print(f"wrote {expected.count(chr(10)) - 1} lines to {HERE / 'corpus.jsonl'}")


if __name__ == "__main__":
    main()
