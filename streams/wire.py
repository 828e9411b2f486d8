"""From raw input to a JSON value, refusing what no store could hold faithfully.

The careful half of the contract (``streams.contract`` tries a compiled decoder
first and comes here only when it fails): it decodes the bytes strictly, parses
with the standard library while noting repeated keys, and walks the result
once, iteratively, so that a hostile nesting depth is a rejection rather than a
``RecursionError`` anywhere later. What it refuses, and why:

- bytes that are not UTF-8 (replacing them would store a different text);
- nesting deeper than ``MAX_DEPTH``;
- a key repeated in one object (readers disagree on which value wins);
- NUL characters and lone UTF-16 surrogates in any string or key (PostgreSQL
  text refuses the first, UTF-8 cannot encode the second);
- integers beyond 64 bits and numbers that are not finite (returned, not
  raised: the per-field checks report their own fields first, with the detail
  texts operators know).

It also renders values for detail lines, and makes any text storable, since a
rejection's detail and raw go to the same store that refused the event.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from streams.exceptions import ContractViolation
from streams.limits import MAX_DEPTH, MAX_INT, MAX_RAW_BYTES
from streams.records import LossyText

__all__ = ["text_of", "read_json", "inspect", "json_type", "show", "number_text", "storable", "raw_text"]

_SURROGATE = re.compile("[\ud800-\udfff]")
_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Duplicated(dict):
    """An object whose text repeated a key; ``duplicate`` is the first key seen twice."""

    __slots__ = ("duplicate",)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            break
        seen.add(key)
    marked = _Duplicated(pairs)
    marked.duplicate = key
    return marked


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constants, object_pairs_hook=_pairs)


def _loads(text: str) -> Any:
    try:
        if text.startswith("\ufeff"):  # what json.loads says, which this decoder does not check
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        return _DECODER.decode(text)
    except RecursionError:
        raise ContractViolation("bad_json", "the JSON is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, integers over 4,300 digits
        if "integer string conversion" in str(exc):
            raise ContractViolation(
                "out_of_range", "a number in the event has more than 4300 digits"
            ) from None
        raise ContractViolation("bad_json", f"not valid JSON: {exc}") from None


def text_of(raw: str | bytes | bytearray | memoryview) -> str:
    """The text of a raw event as a person reads it: U+FFFD where bytes were not UTF-8."""
    if isinstance(raw, str):
        return str(raw)  # a LossyText becomes plain text: the rejection keeps what a person reads
    blob = bytes(raw)
    try:
        return blob.decode("utf-8")
    except UnicodeDecodeError:
        return blob.decode("utf-8", "replace")


def read_json(raw: str | bytes | bytearray | memoryview, text: str) -> Any:
    """The JSON value of a raw event whose ``text_of`` is ``text``.

    Raises ``ContractViolation`` for ``too_large``, ``bad_json`` and
    ``bad_utf8``, in that order: a text that is not JSON at all is reported as
    such whatever its bytes.
    """
    if isinstance(raw, LossyText):
        blob: bytes | None = raw.original
    elif isinstance(raw, str):
        blob = None
        if len(raw) > MAX_RAW_BYTES // 4 and len(raw.encode("utf-8", "surrogatepass")) > MAX_RAW_BYTES:
            raise ContractViolation("too_large", f"the event is over {MAX_RAW_BYTES // 1024} KiB")
    else:
        blob = bytes(raw)
    if blob is not None and len(blob) > MAX_RAW_BYTES:
        raise ContractViolation("too_large", f"the event is {len(blob)} bytes, over {MAX_RAW_BYTES // 1024} KiB")
    obj = _loads(text)
    if blob is not None and "\ufffd" in text:
        try:
            blob.decode("utf-8")
        except UnicodeDecodeError as exc:
            at = exc.start
            raise ContractViolation(
                "bad_utf8",
                f"byte {at} (0x{blob[at]:02x}) is not valid UTF-8; send the feed as UTF-8 (was it saved as GBK?)",
            ) from None
    return obj


def json_type(value: Any) -> str:
    """JSON's name for a value's type, since the people reading details think in JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _huge(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and not -(10**60) < value < 10**60


def _digits(value: int) -> str:
    # str() of an integer over 4,300 digits raises, so count from the bit length instead
    return f"an integer of about {int(abs(value).bit_length() * 0.30103) + 1} digits"


def show(value: Any, limit: int = 60) -> str:
    """A short JSON rendering of a bad value for a detail line, safe to store anywhere."""
    if _huge(value):
        return _digits(value)
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=True)
        if _SURROGATE.search(text):
            text = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        text = _repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def number_text(value: float) -> str:
    """``str(value)`` for the numbers a detail can show, a digit count for the ones it cannot."""
    return _digits(value) if _huge(value) else str(value)  # type: ignore[arg-type]


def _repr(value: Any) -> str:
    try:
        return storable(repr(value))
    except Exception:  # a hostile __repr__, or one too deep or too large to render
        return f"<a {type(value).__name__} that cannot be shown>"


def storable(text: str) -> str:
    """``text`` itself, or a copy with U+FFFD for each NUL and lone surrogate, which no store holds."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _SURROGATE.sub("\ufffd", text)
    return text


def raw_text(raw: Any) -> str:
    """The original input as storable text for the dead-letter store; objects are serialised."""
    if isinstance(raw, str):
        return storable(raw)
    if isinstance(raw, bytes | bytearray | memoryview):
        return storable(bytes(raw).decode("utf-8", "replace"))
    try:
        return storable(json.dumps(raw, ensure_ascii=False, default=_repr))
    except (TypeError, ValueError, RecursionError):
        return _repr(raw)


# A node's place in the event, kept as a chain of (parent chain, key or index) and spelled
# out ("data.items[2]") only for the one node a detail names: the walk stays cheap.
_Chain = tuple[Any, str | int] | None


def _path(chain: _Chain) -> str:
    keys: list[str | int] = []
    while chain is not None:
        chain, key = chain
        keys.append(key)
    path = ""
    for key in reversed(keys):
        if type(key) is int:
            path = f"{path}[{key}]"
        elif _SIMPLE_KEY.fullmatch(key):  # type: ignore[arg-type]
            path = f"{path}.{key}" if path else key  # type: ignore[assignment]
        else:
            path = f"{path}[{json.dumps(key)}]"
    return path


def _string_problem(text: str, what: str, path: str) -> ContractViolation | None:
    at = text.find("\x00")
    if at >= 0:
        return ContractViolation(
            "nul_character",
            f"{what} has a NUL character (\\u0000) at position {at}; PostgreSQL cannot store it",
            path or None,
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return ContractViolation(
            "lone_surrogate",
            f"{what} has a lone UTF-16 surrogate (\\u{ord(text[exc.start]):04x}) at position {exc.start}; "
            "send the character itself, or both halves of its surrogate pair",
            path or None,
        )
    return None


def _too_deep(chain: _Chain) -> ContractViolation:
    return ContractViolation(
        "bad_json", f"the JSON nests objects and arrays more than {MAX_DEPTH} levels deep", _path(chain) or None
    )


def _scalar(value: Any, chain: _Chain, number: ContractViolation | None) -> ContractViolation | None:
    """Check one non-container value; raise if unstorable, return the first number out of range."""
    if isinstance(value, str):
        if "\x00" in value or not value.isascii():
            path = _path(chain)
            bad = _string_problem(value, path or "the event", path)
            if bad is not None:
                raise bad
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if number is None and not -MAX_INT - 1 <= value <= MAX_INT:
            path = _path(chain)
            return ContractViolation(
                "out_of_range", f"{path or 'the event'} is {show(value)}, beyond the 64-bit integer range", path or None
            )
    elif isinstance(value, float):
        if number is None and not math.isfinite(value):
            path = _path(chain)
            return ContractViolation(
                "out_of_range", f"{path or 'the event'} must be a finite number, got {value}", path or None
            )
    else:
        path = _path(chain)
        raise ContractViolation(
            "bad_field_type",
            f"{path or 'the event'} is a Python {type(value).__name__}, not a JSON value",
            path or None,
        )
    return number


def inspect(obj: Any) -> ContractViolation | None:
    """Walk a decoded event once; raise what makes it unstorable, return a number out of range.

    Raises ``ContractViolation`` for nesting over ``MAX_DEPTH`` (``bad_json``), a
    repeated key, a NUL or lone surrogate in a key or string, a key that is not a
    string or a value that is not JSON (objects handed in by Python callers).
    Returns the first integer beyond 64 bits or non-finite number, if any, for
    the caller to raise after the per-field checks.
    """
    number: ContractViolation | None = None
    stack: list[tuple[Any, _Chain, int]] = [(obj, None, 1)]
    while stack:
        node, chain, depth = stack.pop()
        if isinstance(node, dict):
            if depth > MAX_DEPTH:
                raise _too_deep(chain)
            if type(node) is _Duplicated:
                key = node.duplicate
                path = _path(chain)
                raise ContractViolation(
                    "duplicate_key",
                    f"{path or 'the event'} has the key {show(key)} more than once",
                    _path((chain, key)),
                )
            nested = []
            for key, value in node.items():
                if type(key) is not str:
                    path = _path(chain)
                    raise ContractViolation(
                        "bad_field_type",
                        f"{path or 'the event'} has a key of type {json_type(key)}; JSON keys are strings",
                        path or None,
                    )
                if "\x00" in key or not key.isascii():
                    path = _path(chain)
                    bad = _string_problem(key, f"a key of {path or 'the event'}", path)
                    if bad is not None:
                        raise bad
                tv = type(value)
                if tv is str:  # the common cases inline; anything odd goes to _scalar
                    if "\x00" in value or not value.isascii():
                        number = _scalar(value, (chain, key), number)
                elif tv is int or tv is float:
                    if number is None and not -MAX_INT - 1 <= value <= MAX_INT or value != value:
                        number = _scalar(value, (chain, key), number)
                elif tv is dict or tv is list or isinstance(value, dict | list | tuple):
                    nested.append((value, (chain, key), depth + 1))
                elif tv is not bool and value is not None:
                    number = _scalar(value, (chain, key), number)
            stack.extend(reversed(nested))
        elif isinstance(node, list | tuple):
            if depth > MAX_DEPTH:
                raise _too_deep(chain)
            nested = []
            for i, value in enumerate(node):
                if isinstance(value, dict | list | tuple):
                    nested.append((value, (chain, i), depth + 1))
                else:
                    number = _scalar(value, (chain, i), number)
            stack.extend(reversed(nested))
        else:
            number = _scalar(node, chain, number)
    return number
