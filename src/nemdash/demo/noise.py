"""Counter-based randomness for the synthetic NEM: every random number is a pure function of keys.

The demo must give byte-identical files for the same seed however the work is cut up (a month
for the MMSDM archive, a market day for ARCHIVE, one interval for a live clock). A stateful
generator would make an interval's value depend on what was drawn before it, so instead every
draw hashes its keys (seed, a stream name, and integers such as a day number, a knot number or a
unit index) with SplitMix64. Slowly varying weather is "value noise": normal values at knots a
fixed number of hours apart, blended smoothly; the knots are numbered from a fixed epoch, so any
interval can be computed on its own.
"""

from __future__ import annotations

import zlib
from datetime import datetime

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Time zero of every knot and interval number (NEM time, naive wall clock).
EPOCH = datetime(2000, 1, 1)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)


def _splitmix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """SplitMix64's finaliser, element-wise (array arithmetic wraps modulo 2**64 silently)."""
    z = x + _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


def stream_id(name: str) -> int:
    """A stable integer for a stream name (CRC-32: the same on every platform and run)."""
    return zlib.crc32(name.encode())


def hash_keys(seed: int, stream: str, *keys: ArrayLike) -> NDArray[np.uint64]:
    """64-bit hashes of (seed, stream, keys...), broadcast over the key arrays."""
    arrays = [np.atleast_1d(np.asarray(k, dtype=np.int64)) for k in keys]
    shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else (1,)
    start = np.uint64((seed & 0xFFFFFFFF) << 32 | stream_id(stream))
    h = _splitmix(np.full(shape, start, dtype=np.uint64))
    for key in arrays:
        h = _splitmix(h ^ key.astype(np.uint64))
    return h


def uniform(seed: int, stream: str, *keys: ArrayLike) -> FloatArray:
    """Uniform numbers in (0, 1), one per broadcast key."""
    h = hash_keys(seed, stream, *keys)
    return ((h >> _S11).astype(np.float64) + 0.5) * 2.0**-53


def normal(seed: int, stream: str, *keys: ArrayLike) -> FloatArray:
    """Standard normal numbers (Box-Muller on two independent hashes), one per broadcast key."""
    h1 = hash_keys(seed, stream, *keys)
    h2 = _splitmix(h1 ^ _GOLDEN)
    u1 = ((h1 >> _S11).astype(np.float64) + 0.5) * 2.0**-53
    u2 = ((h2 >> _S11).astype(np.float64) + 0.5) * 2.0**-53
    result: FloatArray = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    return result


def smooth(
    seed: int, stream: str, hours: FloatArray, knot_hours: float, ids: ArrayLike = (0,)
) -> FloatArray:
    """Smooth noise of unit variance, shape ``(len(hours), len(ids))``.

    ``hours`` are hours since :data:`EPOCH`. Independent normal values sit on knots every
    ``knot_hours`` (per id) and are blended with a smoothstep; dividing by the blend's norm keeps
    the variance at one between knots, so the noise does not go quiet half-way.
    """
    ids_arr = np.atleast_1d(np.asarray(ids, dtype=np.int64))
    position = hours / knot_hours
    k0 = np.floor(position).astype(np.int64)
    frac = position - k0
    first = int(k0.min()) if k0.size else 0
    last = int(k0.max()) + 1 if k0.size else 1
    knots = np.arange(first, last + 1, dtype=np.int64)
    values = normal(seed, stream, knots[:, None], ids_arr[None, :])
    a = values[k0 - first]
    b = values[k0 - first + 1]
    s = frac * frac * (3.0 - 2.0 * frac)
    norm = np.sqrt((1.0 - s) ** 2 + s**2)
    result: FloatArray = (a * (1.0 - s)[:, None] + b * s[:, None]) / norm[:, None]
    return result
