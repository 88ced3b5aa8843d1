"""Latency histograms with fixed buckets, and percentiles read from them.

Why a histogram and not percentile_cont: the page must answer for a year of a 10,000-user
tenant in well under a second, and exact percentiles need every row sorted. Bucket counts per
day add up across days, filters and databases, so PostgreSQL and SQLite give the same answer by
construction. The price is resolution: 20 ms below 1 s, 100 ms to 5 s, 500 ms to 20 s, 2 s to
60 s, which is finer than anyone reads a latency chart.

The bucket of a value is computed by the same arithmetic in SQL (`sql_bucket`) and here.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

# (start_ms, end_ms, width_ms) for each band; buckets are numbered consecutively across bands.
BANDS: tuple[tuple[int, int, int], ...] = (
    (0, 1_000, 20),
    (1_000, 5_000, 100),
    (5_000, 20_000, 500),
    (20_000, 60_000, 2_000),
)
OVERFLOW_WIDTH_MS = 60_000  # the last bucket: 60 s to 120 s (later values are clamped into it)


def _band_offsets() -> list[int]:
    offsets, n = [], 0
    for start, end, width in BANDS:
        offsets.append(n)
        n += (end - start) // width
    offsets.append(n)
    return offsets


_OFFSETS = _band_offsets()
OVERFLOW_BUCKET = _OFFSETS[-1]
BUCKETS = OVERFLOW_BUCKET + 1


def bucket_of(ms: int) -> int:
    """The bucket index a latency in milliseconds falls into."""
    ms = max(0, int(ms))
    for (start, end, width), offset in zip(BANDS, _OFFSETS):
        if ms < end:
            return offset + (ms - start) // width
    return OVERFLOW_BUCKET


def bounds(bucket: int) -> tuple[int, int]:
    """[lower, upper) in milliseconds of a bucket."""
    if not 0 <= bucket < BUCKETS:
        raise ValueError(f"no bucket {bucket}")
    if bucket == OVERFLOW_BUCKET:
        start = BANDS[-1][1]
        return start, start + OVERFLOW_WIDTH_MS
    for (start, _end, width), offset, following in zip(BANDS, _OFFSETS, _OFFSETS[1:]):
        if bucket < following:
            lower = start + (bucket - offset) * width
            return lower, lower + width
    raise AssertionError("unreachable")


def merge(counts: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Add up (bucket, count) pairs."""
    merged: dict[int, int] = {}
    for bucket, count in counts:
        merged[bucket] = merged.get(bucket, 0) + int(count)
    return merged


def percentile(histogram: Mapping[int, int], q: float) -> float | None:
    """The q-quantile (0..1), interpolated linearly inside its bucket; None when empty.

    The rank is q × N (as Prometheus' histogram_quantile does); inside the bucket holding that
    rank the values are taken as evenly spread between the bucket's bounds.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError("q must be between 0 and 1")
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank = q * total
    seen = 0
    for bucket in sorted(histogram):
        count = histogram[bucket]
        if count <= 0:
            continue
        if seen + count >= rank:
            lower, upper = bounds(bucket)
            return lower + (upper - lower) * ((rank - seen) / count)
        seen += count
    lower, upper = bounds(max(b for b, c in histogram.items() if c > 0))
    return float(upper)
