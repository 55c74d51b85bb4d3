"""The cache key of a job, computed exactly as the original computes it.

    job_hash = sha256hex( sha256hex(JSON.stringify(normalize(payload))) + jobType )

"+" is string concatenation: the 64 hex digits of the payload's digest followed by the
type's name, both UTF-8, hashed again (`createHash('sha256').update(payloadHash)
.update(jobType)` in the original's `generateJobHash`). `stringify` reproduces
JavaScript's `JSON.stringify` byte for byte on what `normalize` returns, so a payload
hashes here as it hashed there; the API hashes the payload after the type's schema
has filled in its defaults (the original hashed the raw payload).

Where we do not follow JavaScript, on purpose:
- An int beyond 2**53 keeps all its digits; JavaScript would have rounded it to a double
  when it parsed the request, so two different integers there could share a key.
- A key named `__proto__` is an ordinary key; the original's `normalized[key] = …`
  would have set the object's prototype and dropped the key from the text.
- Only JSON values are accepted (dict with str keys, list, tuple, str, int, float,
  bool, None); anything else raises TypeError instead of silently hashing as null.
Numbers are printed by ECMAScript's Number::toString from Python's shortest
round-trip digits (`repr`), which pick the same digits as V8's for every double.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TypeAlias

JsonValue: TypeAlias = dict[str, "JsonValue"] | list["JsonValue"] | str | int | float | bool | None

# JavaScript's `\s` and what `String.prototype.trim` removes: WhiteSpace and LineTerminator,
# which are not Python's `str.isspace` (no U+001C-U+001F or U+0085; U+FEFF is in).
_JS_SPACE = "[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
_JS_SPACES = re.compile(f"{_JS_SPACE}+")
_JS_EDGE_SPACES = re.compile(f"^{_JS_SPACE}+|{_JS_SPACE}+$")
# What JSON.stringify escapes: `"`, `\`, control characters and unpaired surrogates.
_JSON_ESCAPED = re.compile('[\\x00-\\x1f"\\\\\ud800-\udfff]')
_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
# An array index (a canonical integer below 2**32 - 1): such keys come first in a
# JavaScript object, in numeric order, whatever order they were added in.
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]{0,9}")
_MAX_ARRAY_INDEX = 2**32 - 2


def _js_trim(text: str) -> str:
    return _JS_EDGE_SPACES.sub("", text)


def _utf16_order(key: str) -> bytes:
    # Array.prototype.sort compares strings by UTF-16 code units, not by code points.
    return key.encode("utf-16-be", "surrogatepass")


def normalize(value: object) -> JsonValue:
    """The original's `normalizeObject`: keys sorted and trimmed, strings trimmed with inner
    whitespace collapsed to one space, NaN and ±Infinity (and None) as null; arrays keep
    their order. As there, keys are sorted before they are trimmed (a leading space moves a
    key to the front), and two keys that trim alike keep the later one's value."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return _JS_SPACES.sub(" ", _js_trim(value))
    if isinstance(value, Mapping):
        normalized: dict[str, JsonValue] = {}
        for key in sorted(_string_keys(value), key=_utf16_order):
            normalized[_js_trim(key)] = normalize(value[key])
        return normalized
    if isinstance(value, (list, tuple)):
        return [normalize(item) for item in value]
    raise TypeError(f"Cannot hash a value of type {type(value).__name__}")


def _string_keys(mapping: Mapping[object, object]) -> list[str]:
    keys: list[str] = []
    for key in mapping:
        if not isinstance(key, str):
            raise TypeError(f"Cannot hash an object key of type {type(key).__name__}")
        keys.append(key)
    return keys


def _is_array_index(key: str) -> bool:
    return _ARRAY_INDEX.fullmatch(key) is not None and int(key) <= _MAX_ARRAY_INDEX


def _js_property_order(keys: list[str]) -> list[str]:
    indices = sorted((key for key in keys if _is_array_index(key)), key=int)
    return indices + [key for key in keys if not _is_array_index(key)]


def _js_number(value: float) -> str:
    """ECMAScript Number::toString(10) of a finite double."""
    if value == 0:
        return "0"  # and -0
    sign = "-" if value < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exponent += len(digit_tuple) - len(digits)
    # value = 0.<digits> × 10**point
    k, point = len(digits), exponent + len(digits)
    if k <= point <= 21:
        text = digits + "0" * (point - k)
    elif 0 < point <= 21:
        text = f"{digits[:point]}.{digits[point:]}"
    elif -6 < point <= 0:
        text = "0." + "0" * -point + digits
    else:
        power = point - 1
        mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
        text = f"{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"
    return sign + text


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _SHORT_ESCAPES.get(char) or f"\\u{ord(char):04x}"


def _js_string(text: str) -> str:
    # A surrogate pair spelt as two code points is one character to JavaScript; one left
    # unpaired is escaped (well-formed JSON.stringify, ES2019).
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return '"' + _JSON_ESCAPED.sub(_escape, text) + '"'


def stringify(value: JsonValue) -> str:
    """JavaScript's `JSON.stringify(value)`: no spaces, non-ASCII left as is."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _js_number(value) if math.isfinite(value) else "null"
    if isinstance(value, str):
        return _js_string(value)
    if isinstance(value, list):
        return "[" + ",".join(stringify(item) for item in value) + "]"
    members = (f"{_js_string(key)}:{stringify(value[key])}" for key in _js_property_order(list(value)))
    return "{" + ",".join(members) + "}"


def payload_hash(payload: object) -> str:
    """The original's `hashObject`: sha256 hex of the normalised payload's JSON text."""
    return hashlib.sha256(stringify(normalize(payload)).encode("utf-8")).hexdigest()


def job_hash(job_type: str, payload: object) -> str:
    """The cache key of a job of `job_type` with this (already defaulted) payload."""
    return hashlib.sha256((payload_hash(payload) + job_type).encode("utf-8")).hexdigest()
