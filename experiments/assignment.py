"""Deterministic arm assignment, bit-for-bit the GrowthBook SDK's, vectorized over millions of users.

GrowthBook (growthbook 4.0, `growthbook/core.py`) places a user with `gbhash` (FNV-1a 32-bit over the
string's UTF-16 code units, like the JS SDK; older Python SDKs hashed code points, which differs only
above U+FFFF, e.g. emoji); v2 `fnv(str(fnv(seed + id))) % 10000 / 10000`, v1 `fnv(id + seed) % 1000 /
1000`), `getBucketRanges` and `chooseVariation` (first range with start <= n < end). The same arithmetic
runs here once per batch: ids become one buffer of code units plus start/length arrays and a numba
kernel hashes them (a pure-numpy column-by-column engine gives the same numbers without numba).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Iterable, Sequence
from types import ModuleType
from typing import Literal, TypeGuard, cast

import numpy as np
import pyarrow as pa

from experiments.errors import ExperimentError

try:  # numba comes with causalml; the numpy engine gives identical results without it
    import numba as _numba

    numba: ModuleType | None = _numba
except ImportError:  # pragma: no cover - numba is installed with causalml
    numba = None

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
WEIGHT_SUM_MIN, WEIGHT_SUM_MAX = 0.99, 1.01  # growthbook.core: other sums fall back to equal weights
Engine = Literal["auto", "numba", "numpy"]


def equal_weights(n: int) -> list[float]:
    """GrowthBook's `getEqualWeights`: n weights of 1/n (none when n < 1)."""
    return [1 / n for _ in range(n)] if n >= 1 else []


def bucket_ranges(n: int, coverage: float = 1.0, weights: Sequence[float] | None = None) -> list[tuple[float, float]]:
    """GrowthBook's `getBucketRanges`: clamp coverage to [0,1], fall back to equal weights, one [start, end) per arm."""
    coverage = min(max(coverage, 0), 1)
    if not _sdk_valid_weights(weights, n):
        weights = equal_weights(n)
    cumulative = 0.0
    ranges = []
    for w in weights:
        start = cumulative
        cumulative += w
        ranges.append((start, start + coverage * w))
    return ranges


def choose_arm(hashes: np.ndarray, ranges: Sequence[tuple[float, float]]) -> np.ndarray:
    """GrowthBook's `chooseVariation` for a whole array: index of the first range with start <= n < end, else -1."""
    hashes = np.asarray(hashes, dtype=np.float64)
    arms = np.full(hashes.shape, -1, dtype=np.int8 if len(ranges) <= 127 else np.int16)
    for index in range(len(ranges) - 1, -1, -1):  # last to first, so the first matching range wins
        start, end = ranges[index]
        arms[(hashes >= start) & (hashes < end)] = index
    return arms


def assign(
    user_ids: Iterable[str],
    *,
    seed: str,
    weights: Sequence[float],
    coverage: float = 1.0,
    hash_version: int = 2,
) -> np.ndarray:
    """Arm index per user, as GrowthBook places them; -1 outside coverage, for an empty id or an unknown hash version."""
    weights = _checked_weights(weights)
    if not isinstance(seed, str):
        raise ExperimentError(f"seed must be a string, got {seed!r}")
    if not isinstance(coverage, numbers.Real) or not 0 <= coverage <= 1:
        raise ExperimentError(f"coverage must be a number between 0 and 1, got {coverage!r}")
    units = _prepare_ids(user_ids)
    modulus = _modulus(hash_version)
    if not modulus:  # the SDK skips the experiment for an unknown hash version
        return np.full(units.lengths.size, -1, dtype=np.int8 if len(weights) <= 127 else np.int16)
    # gbhash takes only `modulus` values k / modulus: decide each once with the SDK's float comparisons.
    table = choose_arm(np.arange(modulus) / modulus, bucket_ranges(len(weights), coverage, weights))
    arms = table[_buckets(seed, units, hash_version, "auto")]
    arms[units.lengths == 0] = -1  # the SDK skips users whose hash attribute is empty (core.py `if not hashValue`)
    return arms


def hash_ids(seed: str, ids: Iterable[str], version: int, *, engine: Engine = "auto") -> np.ndarray:
    """GrowthBook's `gbhash` for every id: float in [0, 1), nan for an unsupported hash version."""
    return _hash_units(seed, _prepare_ids(ids), version, engine)


def in_namespace(user_ids: Iterable[str], namespace: tuple[str, float, float]) -> np.ndarray:
    """GrowthBook's `inNamespace` for every id: v1 hash with seed `__<namespace id>` inside [start, end)."""
    namespace_id, start, end = namespace
    hashes = hash_ids("__" + namespace_id, user_ids, 1)
    return (hashes >= start) & (hashes < end)


# ---------------------------------------------------------------------------------------------- input


class _Units:
    """Ids as one flat buffer (uint8 ASCII or UTF-8 bytes, or uint32 code points) with each id's start and length."""

    def __init__(self, buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray, utf8: bool = False,
                 width: int | None = None) -> None:
        self.buffer, self.starts, self.lengths, self.utf8 = buffer, starts, lengths, utf8
        self.width = width  # set when the ids are a fixed-width numpy 'U' array (row i starts at i * width)


def _prepare_ids(ids: Iterable[str]) -> _Units:
    """Turn a list / numpy array / pandas Series of str into `_Units` with no per-id Python work beyond C loops."""
    if isinstance(ids, str):
        raise ExperimentError("user_ids must be a sequence of strings, got a single string")
    if _is_arrow_string(ids):
        array = pa.array(getattr(ids, "array", ids))
        if array.null_count:
            first = int(np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False))[0])
            raise ExperimentError(f"user id at position {first} is missing; every user id must be a string")
        return _units_from_arrow(array)
    items: Collection[str]
    if hasattr(ids, "to_numpy"):
        items = ids.to_numpy(dtype=object)
    elif not hasattr(ids, "__len__"):  # a generator or other one-pass iterable
        items = list(ids)
    else:  # a list, tuple or numpy array: sized, and iterable more than once
        items = cast(Collection[str], ids)
    if isinstance(items, np.ndarray) and items.ndim != 1:
        raise ExperimentError(f"user_ids must be one-dimensional, got shape {items.shape}")
    if isinstance(items, np.ndarray) and items.dtype.kind == "U":
        items = np.ascontiguousarray(items)
        width = items.dtype.itemsize // 4
        lengths = np.strings.str_len(items).astype(np.int64)
        starts = np.arange(items.size, dtype=np.int64) * width
        return _Units(items.view(np.uint32).reshape(-1), starts, lengths, width=width)
    try:  # pyarrow turns a list of str into UTF-8 + offsets in one C++ pass, faster than the join below
        converted = pa.array(items)  # inferred, so bytes come out as `binary` and are refused below
        if pa.types.is_string(converted.type) or pa.types.is_large_string(converted.type):
            if not converted.null_count:
                return _units_from_arrow(converted)
    except (TypeError, ValueError):  # a non-string or a lone surrogate: the exact path below decides
        pass
    try:
        text = "".join(items)
    except TypeError:
        raise ExperimentError(_non_string_message(items)) from None
    lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
    # Code points, lone surrogates included; the kernel splits those above U+FFFF into UTF-16 pairs like the SDK.
    buffer = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    starts = np.cumsum(lengths) - lengths
    return _Units(buffer, starts, lengths)


def _is_arrow_string(ids: object) -> bool:
    """Whether ids are a pandas Series / Index / array of Arrow strings (pandas 3's default `str` dtype)."""
    dtype = getattr(ids, "dtype", None)
    arrow_type = str(getattr(dtype, "pyarrow_dtype", ""))  # pd.ArrowDtype(pa.string()) and friends
    return getattr(dtype, "storage", None) == "pyarrow" or arrow_type in {"string", "large_string"}


def _units_from_arrow(array: pa.Array | pa.ChunkedArray) -> _Units:
    """Zero-copy view of an Arrow string array without nulls: its UTF-8 bytes and offsets."""
    if not pa.types.is_large_string(array.type):  # 64-bit offsets, so chunks over 2 GB combine safely
        array = array.cast(pa.large_string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    _, offsets_buf, data_buf = array.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    ascii_only = bool(data[offsets[0] : offsets[-1]].max(initial=0) < 0x80)
    return _Units(data, offsets[:-1], np.diff(offsets), utf8=not ascii_only)


def _non_string_message(ids: Iterable[object]) -> str:
    """Name the first id that is not a string (only runs on the error path)."""
    for position, value in enumerate(ids):
        if not isinstance(value, str):
            kind = type(value).__name__
            return f"user id at position {position} is {value!r} ({kind}); every user id must be a string"
    return "user_ids must be a sequence of strings"


def _checked_weights(weights: Sequence[float]) -> list[float]:
    """Reject weights no experiment can use (empty, negative, not finite); sums far from 1 follow the SDK's fallback."""
    try:
        values = [float(w) for w in weights]
    except (TypeError, ValueError):
        raise ExperimentError(f"weights must be a list of numbers, got {weights!r}") from None
    if not values:
        raise ExperimentError("weights must name at least one arm, got an empty list")
    if len(values) > np.iinfo(np.int16).max:
        raise ExperimentError(f"at most {np.iinfo(np.int16).max} arms are supported, got {len(values)}")
    bad = [w for w in values if not math.isfinite(w) or w < 0]
    if bad:
        raise ExperimentError(f"weights must be finite and non-negative, got {bad[0]!r} in {values!r}")
    return values


def _sdk_valid_weights(weights: Sequence[float] | None, n: int) -> TypeGuard[Sequence[float]]:
    """growthbook.core `_is_valid_weight_vector`: one finite non-negative number per arm, summing to 0.99-1.01."""
    if weights is None or len(weights) != n:
        return False
    numeric = all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights)
    if not numeric or not all(math.isfinite(w) and w >= 0 for w in weights):
        return False
    return WEIGHT_SUM_MIN <= sum(weights) <= WEIGHT_SUM_MAX


# ---------------------------------------------------------------------------------------------- hashing


def _utf16_units(text: str) -> np.ndarray:
    """A string's UTF-16 code units, as the SDK's `fnv1a32` reads them."""
    return np.frombuffer(text.encode("utf-16-le", "surrogatepass"), dtype=np.uint16).astype(np.uint32)


def _fnv_scalar(state: int, units: np.ndarray) -> int:
    """Continue an FNV-1a 32 state over a short sequence of code units (the seed)."""
    for unit in units.tolist():
        state = ((state ^ unit) * FNV_PRIME) & 0xFFFFFFFF
    return state


def _modulus(version: int) -> int:
    """gbhash's number of buckets: 10000 for v2, 1000 for v1, none (0) for any other version."""
    return {1: 1000, 2: 10000}.get(version, 0) if not isinstance(version, bool) else 0


def _hash_units(seed: str, units: _Units, version: int, engine: Engine) -> np.ndarray:
    """gbhash values as float64, exactly `(h % modulus) / modulus` like the SDK (all nan for an unsupported version)."""
    modulus = _modulus(version)
    if not modulus:
        return np.full(units.lengths.size, np.nan)
    return _buckets(seed, units, version, engine) / modulus


def _buckets(seed: str, units: _Units, version: int, engine: Engine) -> np.ndarray:
    """Each id's bucket `fnv % modulus` (uint16) for hash version 1 or 2, by the chosen engine."""
    if not isinstance(seed, str):
        raise ExperimentError(f"seed must be a string, got {seed!r}")
    seed_units = _utf16_units(seed)
    # v2 hashes seed + id: the seed's part of the state is the same for everyone. v1 hashes id + seed.
    start_state = _fnv_scalar(FNV_OFFSET, seed_units) if version == 2 else FNV_OFFSET
    suffix = seed_units if version == 1 else np.zeros(0, np.uint32)
    if engine not in ("auto", "numba", "numpy"):
        raise ExperimentError(f"engine must be 'auto', 'numba' or 'numpy', got {engine!r}")
    if engine == "auto":
        engine = "numba" if numba is not None else "numpy"
    if engine == "numba":
        if numba is None:
            raise ExperimentError("engine='numba' needs numba (installed with causalml)")
        buckets = np.empty(units.lengths.size, dtype=np.uint16)
        _kernel(units.buffer, units.starts, units.lengths, units.utf8, start_state, suffix, version,
                _modulus(version), buckets)
        return buckets
    return (_numpy_hash(units, start_state, suffix, version) % np.uint32(_modulus(version))).astype(np.uint16)


def _step(h: np.int64, unit: np.int64 | int) -> np.int64:
    """One FNV-1a step in wrapping int64: the low 32 bits are FNV-1a 32's state (mask them off at the end)."""
    return (h ^ unit) * FNV_PRIME


def _step_code_point(h: np.int64, cp: np.int64) -> np.int64:
    """Hash one code point as the SDK does: above U+FFFF it is two UTF-16 surrogate units."""
    if cp > 0xFFFF:
        cp -= 0x10000
        h = _step(h, 0xD800 + (cp >> 10))
        return _step(h, 0xDC00 + (cp & 0x3FF))
    return _step(h, cp)


def _kernel(buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray, utf8: bool, start_state: int,
            suffix: np.ndarray, version: int, modulus: int, out: np.ndarray) -> None:
    """gbhash's bucket per id: FNV-1a over the id's units, the v1 seed suffix, v2's digit pass, then `% modulus`."""
    digits = np.empty(10, dtype=np.int64)  # decimal digits of a uint32, least significant first
    for i in range(starts.size):
        h = np.int64(start_state)
        pos = starts[i]
        stop = pos + lengths[i]
        if utf8:
            while pos < stop:
                cp = np.int64(buffer[pos])
                extra = 0
                if cp >= 0xF0:
                    cp, extra = cp & 0x07, 3
                elif cp >= 0xE0:
                    cp, extra = cp & 0x0F, 2
                elif cp >= 0x80:
                    cp, extra = cp & 0x1F, 1
                for k in range(extra):
                    cp = (cp << 6) | (np.int64(buffer[pos + 1 + k]) & 0x3F)
                pos += 1 + extra
                h = _step_code_point(h, cp)
        else:
            while pos < stop:
                h = _step_code_point(h, np.int64(buffer[pos]))
                pos += 1
        for j in range(suffix.size):
            h = _step(h, np.int64(suffix[j]))
        h &= 0xFFFFFFFF
        if version == 2:  # second pass over the decimal digits of the first hash (division by 10 is a multiply)
            count = 0
            while True:
                digits[count] = h % 10
                count += 1
                h //= 10
                if h == 0:
                    break
            h = np.int64(FNV_OFFSET)
            for k in range(count - 1, -1, -1):
                h = _step(h, 48 + digits[k])
            h &= 0xFFFFFFFF
        out[i] = h % modulus


if numba is not None:
    _step = numba.njit(cache=True, inline="always")(_step)
    _step_code_point = numba.njit(cache=True, inline="always")(_step_code_point)
    _kernel = numba.njit(cache=True, nogil=True)(_kernel)


def _numpy_hash(units: _Units, start_state: int, suffix: np.ndarray, version: int) -> np.ndarray:
    """The same FNV-1a in pure numpy: one pass per character column, masked by id length (uint32 wraparound)."""
    codes, lengths = _padded_columns(units)  # (width, n) code points, column-contiguous
    prime = np.uint32(FNV_PRIME)
    h = np.full(lengths.size, start_state, dtype=np.uint32)
    shortest = int(lengths.min(initial=0))
    wide = bool(codes.size) and bool((codes > 0xFFFF).any())
    for j in range(codes.shape[0]):
        column = codes[j]
        if wide:
            big = column > 0xFFFF
            offset = column - np.uint32(0x10000)
            first = np.where(big, np.uint32(0xD800) + (offset >> np.uint32(10)), column)
            stepped = (h ^ first) * prime
            stepped = np.where(big, (stepped ^ (np.uint32(0xDC00) + (offset & np.uint32(0x3FF)))) * prime, stepped)
        else:
            stepped = (h ^ column) * prime
        h = stepped if j < shortest else np.where(j < lengths, stepped, h)
    for unit in suffix.tolist():
        h = (h ^ np.uint32(unit)) * prime
    if version == 2:
        first = h.astype(np.int64)
        digits = 1 + sum((first >= 10**k).astype(np.int64) for k in range(1, 10))
        powers = 10 ** np.arange(10, dtype=np.int64)
        h = np.full(first.size, FNV_OFFSET, dtype=np.uint32)
        for k in range(10):
            exponent = np.maximum(digits - 1 - k, 0)
            digit = ((first // powers[exponent]) % 10 + 48).astype(np.uint32)
            h = np.where(k < digits, (h ^ digit) * prime, h)
    return h


def _padded_columns(units: _Units) -> tuple[np.ndarray, np.ndarray]:
    """(max length, n) array of code points, zero beyond each id's end, and each id's length in code points."""
    lengths, starts, buffer = units.lengths, units.starts, units.buffer
    if units.utf8:  # UTF-8 bytes (Arrow): decode all at once, count code points by non-continuation bytes
        text = buffer.tobytes().decode("utf-8")
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        before = np.concatenate([[0], np.cumsum((buffer & 0xC0) != 0x80)])  # code points before each byte
        point_starts = before[starts]
        units = _Units(points, point_starts, before[starts + lengths] - point_starts)
        lengths, starts, buffer = units.lengths, units.starts, units.buffer
    if units.width is not None:  # fixed-width 'U' array: already zero-padded, just transpose
        return np.ascontiguousarray(units.buffer.reshape(lengths.size, units.width).T), lengths
    width = int(lengths.max(initial=0))
    columns = np.zeros((width, lengths.size), dtype=np.uint32)
    for j in range(width):
        inside = lengths > j
        columns[j, inside] = buffer[starts[inside] + j]
    return columns, lengths
