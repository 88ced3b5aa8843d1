"""Pure analytics: latency histograms, percentiles and drift comparison (no Flask, no SQL)."""
