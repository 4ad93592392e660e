"""Vectorised string building: ids, hex, concatenation, over numpy and Arrow.

Every generator step builds whole columns at once; nothing here loops per row in Python.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_HEX_LOWER = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_HEX_UPPER = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)
_ALNUM = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8
)
_UUID_DASHES = (8, 13, 18, 23)

StrLike = pa.Array | pa.ChunkedArray | str


def from_byte_matrix(matrix: np.ndarray) -> pa.Array:
    """One string per row of an (n, width) uint8 matrix of ASCII bytes."""
    n, width = matrix.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    data = pa.py_buffer(np.ascontiguousarray(matrix, dtype=np.uint8).tobytes())
    if offsets[-1] < 2**31:
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), data)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), data).cast(pa.string())


def hex_strings(rng: np.random.Generator, n: int, n_bytes: int, upper: bool = False) -> pa.Array:
    """n random hex strings of 2 * n_bytes characters."""
    raw = rng.integers(0, 256, size=(n, n_bytes), dtype=np.uint8)
    return from_byte_matrix(_hex_matrix(raw, upper))


def uuid_strings(rng: np.random.Generator, n: int, upper: bool = False) -> pa.Array:
    """n random version-4 UUIDs in canonical 8-4-4-4-12 form."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = _hex_matrix(raw, upper)
    out = np.empty((n, 36), dtype=np.uint8)
    src = 0
    dst = 0
    for dash in (*_UUID_DASHES, 36):
        width = dash - dst
        out[:, dst:dash] = hexed[:, src : src + width]
        src += width
        if dash < 36:
            out[:, dash] = ord("-")
        dst = dash + 1
    return from_byte_matrix(out)


def alnum_strings(rng: np.random.Generator, n: int, length: int) -> pa.Array:
    """n random [A-Za-z0-9] strings (click ids)."""
    return from_byte_matrix(_ALNUM[rng.integers(0, len(_ALNUM), size=(n, length))])


def _hex_matrix(raw: np.ndarray, upper: bool) -> np.ndarray:
    digits = _HEX_UPPER if upper else _HEX_LOWER
    out = np.empty((raw.shape[0], raw.shape[1] * 2), dtype=np.uint8)
    out[:, 0::2] = digits[raw >> 4]
    out[:, 1::2] = digits[raw & 0x0F]
    return out


def ints(values: np.ndarray) -> pa.Array:
    """Decimal strings of integers."""
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def padded_ints(values: np.ndarray, width: int) -> pa.Array:
    """Zero-padded decimal strings of non-negative integers."""
    return pc.utf8_lpad(ints(values), width=width, padding="0")


def concat(*parts: StrLike) -> pa.Array:
    """Element-wise concatenation; a null part makes the result null."""
    return pc.binary_join_element_wise(*parts, "")


def pick(options: Sequence[str], index: np.ndarray) -> pa.Array:
    """options[index] for every element of index, as an Arrow string array."""
    return pa.array(list(options), pa.string()).take(pa.array(np.asarray(index, dtype=np.int64)))


def take(values: pa.Array, index: np.ndarray) -> pa.Array:
    return values.take(pa.array(np.asarray(index, dtype=np.int64)))


def take_valid(values: pa.Array, index: np.ndarray, valid: np.ndarray) -> pa.Array:
    """values[index] where valid, else null; safe when values is empty."""
    valid = np.asarray(valid, dtype=bool)
    if not len(values):
        return nulls(len(valid), values.type)
    return null_where(~valid, take(values, np.where(valid, index, 0)))


def scatter(n: int, rows: np.ndarray, values: pa.Array) -> pa.Array:
    """A length-n array holding values at rows and null elsewhere."""
    positions = np.full(n, -1, dtype=np.int64)
    positions[rows] = np.arange(len(rows))
    if not len(values):
        return nulls(n, values.type)
    return values.take(pa.array(positions, mask=positions < 0))


def where(mask: np.ndarray, when_true: StrLike, when_false: StrLike) -> pa.Array:
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), when_true, when_false)


def null_where(mask: np.ndarray, values: pa.Array) -> pa.Array:
    return where(mask, pa.scalar(None, values.type), values)


def nulls(n: int, type_: pa.DataType | None = None) -> pa.Array:
    return pa.nulls(n, type_ or pa.string())


def starts(counts: np.ndarray) -> np.ndarray:
    """Offset of each group's first item, given group sizes (exclusive cumulative sum)."""
    counts = np.asarray(counts, dtype=np.int64)
    return np.cumsum(counts) - counts


def scramble(x: np.ndarray, modulus: int, multiplier: int, offset: int) -> np.ndarray:
    """A bijection of [0, modulus): ids that look random but can never collide.

    multiplier must be coprime with modulus (a prime that does not divide it).
    """
    x = np.asarray(x, dtype=np.int64)
    if x.size and (x.min() < 0 or x.max() >= modulus):
        raise ValueError(f"scramble input out of range [0, {modulus})")
    return (x * multiplier + offset) % modulus


def hash_uniform(seed: int, keys: np.ndarray, salt: int) -> np.ndarray:
    """Deterministic uniforms in [0, 1) per key (splitmix64), independent of chunking."""
    with np.errstate(over="ignore"):
        z = np.asarray(keys, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = z + np.uint64((seed * 1_000_003 + salt * 7919) & 0xFFFFFFFFFFFFFFFF)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
