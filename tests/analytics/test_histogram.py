"""Latency buckets and the percentiles read from them."""
from __future__ import annotations

import pytest

from backend.analytics import histogram as h


@pytest.mark.parametrize("ms, bucket, bounds", [
    (0, 0, (0, 20)), (19, 0, (0, 20)), (20, 1, (20, 40)), (999, 49, (980, 1000)),
    (1000, 50, (1000, 1100)), (4999, 89, (4900, 5000)), (5000, 90, (5000, 5500)),
    (20_000, 120, (20_000, 22_000)), (59_999, 139, (58_000, 60_000)),
    (60_000, 140, (60_000, 120_000)), (10**9, 140, (60_000, 120_000)),
])
def test_every_latency_falls_in_the_bucket_whose_bounds_hold_it(ms, bucket, bounds):
    assert h.bucket_of(ms) == bucket
    assert h.bounds(bucket) == bounds


def test_buckets_tile_the_range_without_gaps():
    for b in range(h.BUCKETS - 1):
        assert h.bounds(b)[1] == h.bounds(b + 1)[0]
        assert h.bucket_of(h.bounds(b)[0]) == b


def test_percentile_interpolates_inside_the_bucket_holding_the_rank():
    hist = h.merge((h.bucket_of(v), 1) for v in (40, 1000, 2000, 3000, 5000))
    assert h.percentile(hist, 0.5) == pytest.approx(2050)   # rank 2.5 in [2000, 2100)
    assert h.percentile(hist, 0.95) == pytest.approx(5375)  # rank 4.75 in [5000, 5500)


def test_percentile_of_nothing_is_none_and_q_is_checked():
    assert h.percentile({}, 0.5) is None
    with pytest.raises(ValueError):
        h.percentile({1: 1}, 1.5)


def test_merging_days_adds_counts_so_order_does_not_matter():
    a, b = [(3, 2), (50, 1)], [(50, 4), (3, 1)]
    assert h.merge(a + b) == h.merge(b + a) == {3: 3, 50: 5}
