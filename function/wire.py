"""dict -> google.protobuf.Struct wire bytes, without building a Struct message first.

The SDK's ``Struct.update`` walks a dict in Python and sets every field through upb one
by one; on a build-cache miss that was half of a call (bench/results/profile-quick.txt).
Writing the wire format directly and letting upb parse it in C
(``MergeFromString``) gives the same message several times faster. A test checks the
bytes parse to exactly what ``Struct.update`` builds, for random JSON-like values.

Encoding (struct.proto): Struct{1: map<string, Value> fields}; Value{1 null (varint),
2 number (double), 3 string, 4 bool (varint), 5 struct, 6 list}; ListValue{1: repeated
Value}. Map entries are {1: key, 2: value}. Numbers are doubles, as in every Struct.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

_DOUBLE = struct.Struct("<d").pack
_VARINT = [bytes([n]) for n in range(128)] + [
    bytes([n & 0x7F | 0x80, n >> 7]) for n in range(128, 16384)
]
_NULL = b"\x08\x00"
_TRUE = b"\x20\x01"
_FALSE = b"\x20\x00"
#: Encoded map-entry key prefixes and string values seen before (bounded: our builders use
#: a few hundred distinct keys and short values; anything past the limit is not kept).
_KEYS: dict[str, bytes] = {}
_STRINGS: dict[str, bytes] = {}
_MEMO_LIMIT = 20_000
_MEMO_STRING_MAX = 64


def _varint(n: int) -> bytes:
    if n < 16384:
        return _VARINT[n]
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _string(s: str) -> bytes:
    hit = _STRINGS.get(s)
    if hit is not None:
        return hit
    b = s.encode()
    out = b"\x1a" + _varint(len(b)) + b
    if len(b) <= _MEMO_STRING_MAX and len(_STRINGS) < _MEMO_LIMIT:
        _STRINGS[s] = out
    return out


def _key(k: str) -> bytes:
    hit = _KEYS.get(k)
    if hit is not None:
        return hit
    b = k.encode()
    out = b"\x0a" + _varint(len(b)) + b + b"\x12"
    if len(_KEYS) < _MEMO_LIMIT:
        _KEYS[k] = out
    return out


def _fields(d: Mapping[str, Any]) -> bytes:
    """The body of a Struct: one map entry per key."""
    parts: list[bytes] = []
    append = parts.append
    keys, strings, varint = _KEYS, _STRINGS, _VARINT
    for k, v in d.items():
        t = type(v)
        if t is str:
            vb = strings.get(v) or _string(v)
        elif t is dict:
            body = _fields(v)
            vb = b"\x2a" + (varint[len(body)] if len(body) < 16384 else _varint(len(body))) + body
        else:
            vb = _value(v)
        kp = keys.get(k) or _key(k)
        n = len(vb)
        vn = varint[n] if n < 16384 else _varint(n)
        m = len(kp) + len(vn) + n
        append(b"\x0a" + (varint[m] if m < 16384 else _varint(m)) + kp + vn + vb)
    return b"".join(parts)


def _value(v: Any) -> bytes:
    """The body of a Value."""
    t = type(v)
    if t is str:
        return _STRINGS.get(v) or _string(v)
    if t is dict:
        body = _fields(v)
        return b"\x2a" + _varint(len(body)) + body
    if t is list or t is tuple:
        items: list[bytes] = []
        for x in v:
            b = _value(x)
            items.append(b"\x0a" + _varint(len(b)) + b)
        body = b"".join(items)
        return b"\x32" + _varint(len(body)) + body
    if t is bool:
        return _TRUE if v else _FALSE
    if t is int or t is float:
        return b"\x11" + _DOUBLE(float(v))
    if v is None:
        return _NULL
    if isinstance(v, str):
        return _string(str(v))
    if isinstance(v, bool):
        return _TRUE if v else _FALSE
    if isinstance(v, int | float):
        return b"\x11" + _DOUBLE(float(v))
    if isinstance(v, Mapping):
        body = _fields(v)
        return b"\x2a" + _varint(len(body)) + body
    if isinstance(v, list | tuple):
        return _value(list(v))
    raise TypeError(f"cannot encode {type(v).__name__} in a Struct")


def struct_bytes(d: Mapping[str, Any]) -> bytes:
    """`d` as the wire bytes of a google.protobuf.Struct."""
    return _fields(d)
