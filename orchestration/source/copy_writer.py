"""Encode numpy columns as PostgreSQL binary COPY tuples, without a Python loop per row.

Formatting millions of timestamps and numerics as text costs far more than generating them, so
the simulator writes PostgreSQL's binary COPY format instead. A binary tuple is a sequence of
(length, big-endian value) fields, so rows that share the same NULL pattern and the same text
byte lengths have one fixed layout: each such group becomes a numpy structured array whose
`tobytes()` is already the wire format. Groups are few (a handful of text values and NULL
patterns per table), so encoding is a few vectorised passes.

Column kinds and how values are passed in:
  int8, int4   integer arrays; NULL_INT marks NULL
  ts           int64 unix seconds (UTC); NULL_INT marks NULL
  num2/3/4     int64 values scaled by 10**2/3/4 (e.g. 12.345 with num3 is 12345); NULL_INT = NULL
  bool         bool arrays (never NULL)
  text         object arrays of str, None = NULL
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg

NULL_INT = np.iinfo(np.int64).min
SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" * 2
TRAILER = b"\xff\xff"
_PG_EPOCH = 946_684_800  # 2000-01-01T00:00:00Z in unix seconds
_NUMERIC_DTYPE = np.dtype(
    [("ndigits", ">i2"), ("weight", ">i2"), ("sign", ">u2"), ("dscale", ">i2"), ("d", ">i2", 4)]
)
_FIXED = {"int8": ">i8", "int4": ">i4", "ts": ">i8", "bool": "u1"}
_SCALES = {"num2": 2, "num3": 3, "num4": 4}


@dataclass(frozen=True)
class Table:
    """A target table: its qualified name and (column, kind) pairs in COPY order."""

    name: str
    columns: tuple[tuple[str, str], ...]

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


def _field_value(kind: str, values: np.ndarray) -> tuple[np.dtype, np.ndarray]:
    """The big-endian dtype and payload of one non-NULL fixed-width column."""
    if kind in _FIXED:
        if kind == "ts":
            values = (values.astype(np.int64) - _PG_EPOCH) * 1_000_000
        return np.dtype(_FIXED[kind]), values
    scale = _SCALES[kind]
    # Always four base-10000 digits (weight 2): three for the integer part (< 10**12) and one
    # for up to four decimals. PostgreSQL strips the leading zero digits itself.
    magnitude = np.abs(values.astype(np.int64))
    integer, fraction = np.divmod(magnitude, 10**scale)
    out = np.zeros(len(values), dtype=_NUMERIC_DTYPE)
    out["ndigits"], out["weight"], out["dscale"] = 4, 2, scale
    out["sign"] = np.where(values < 0, 0x4000, 0)
    out["d"][:, 0] = integer // 10**8
    out["d"][:, 1] = (integer // 10**4) % 10**4
    out["d"][:, 2] = integer % 10**4
    out["d"][:, 3] = fraction * 10 ** (4 - scale)
    return _NUMERIC_DTYPE, out


def encode(table: Table, data: Mapping[str, np.ndarray]) -> bytes:
    """Binary COPY tuples (no signature, no trailer) for the rows in `data`, in group order."""
    names = table.column_names
    n = len(data[names[0]])
    if n == 0:
        return b""
    codes: list[np.ndarray] = []
    encoded_text: dict[str, np.ndarray] = {}
    for name, kind in table.columns:
        values = data[name]
        if kind == "text":
            # Factorise first: text columns hold few distinct values, so encode each once.
            value_codes, uniques = pd.factorize(values, use_na_sentinel=True)
            as_bytes = [u.encode() for u in uniques] + [b""]  # code -1 (NULL) picks the last
            lengths = np.array([len(b) + 1 for b in as_bytes[:-1]] + [0], np.int64)
            encoded_text[name] = np.array(as_bytes, dtype=np.bytes_)[value_codes]
            codes.append(lengths[value_codes])
        elif kind == "bool":
            codes.append(np.ones(n, np.int64))
        else:
            codes.append((values != NULL_INT).astype(np.int64))
    key = np.zeros(n, np.int64)
    for code in codes:
        key = key * (int(code.max()) + 1) + code
    uniques, group_of_row = np.unique(key, return_inverse=True)
    chunks = []
    for group in range(len(uniques)):
        rows = np.flatnonzero(group_of_row == group)
        fields: list[tuple[str, np.dtype]] = [("n", np.dtype(">i2"))]
        payload: dict[str, np.ndarray | int] = {"n": len(names)}
        for j, (name, kind) in enumerate(table.columns):
            code = int(codes[j][rows[0]])
            fields.append((f"l{j}", np.dtype(">i4")))
            if code == 0:
                payload[f"l{j}"] = -1
                continue
            if kind == "text":
                dtype = np.dtype(f"S{code - 1}")
                value = encoded_text[name][rows].astype(dtype)
            else:
                dtype, value = _field_value(kind, data[name][rows])
            fields.append((f"v{j}", dtype))
            payload[f"l{j}"], payload[f"v{j}"] = dtype.itemsize, value
        block = np.empty(len(rows), dtype=np.dtype(fields))
        for field, value in payload.items():
            block[field] = value
        chunks.append(block.tobytes())
    return b"".join(chunks)


def copy_tuples(conn: psycopg.Connection, table: Table, tuples: bytes, *, target: str = "") -> None:
    """COPY already-encoded tuples into `target` (default: the table itself)."""
    if not tuples:
        return
    columns = ", ".join(table.column_names)
    sql = f"COPY {target or table.name} ({columns}) FROM STDIN (FORMAT BINARY)"
    with conn.cursor() as cur, cur.copy(sql) as cp:
        cp.write(SIGNATURE)
        view = memoryview(tuples)
        for offset in range(0, len(view), 1 << 24):
            cp.write(view[offset : offset + (1 << 24)])
        cp.write(TRAILER)


def take(data: Mapping[str, np.ndarray], rows: np.ndarray | slice) -> dict[str, np.ndarray]:
    """The same columns restricted to `rows` (an index array, boolean mask or slice)."""
    return {name: values[rows] for name, values in data.items()}


def concat(parts: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Column-wise concatenation of several column dicts with the same keys."""
    parts = [p for p in parts if p]
    if not parts:
        return {}
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
