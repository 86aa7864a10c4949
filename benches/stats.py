"""Shared by the side-by-side scripts' python harnesses (`PYTHONPATH=benches`): the
percentile and the table row every script prints the same way."""

import statistics


def p99(xs):
    """The 99th percentile, linearly interpolated between the closest ranks."""
    s = sorted(xs)
    k = (len(s) - 1) * 0.99
    f = int(k)
    c = min(f + 1, len(s) - 1)
    return s[f] + (s[c] - s[f]) * (k - f)


def row(label, xs):
    """`| label | median | p99 | min | max |` in milliseconds, one decimal."""
    return (f"| {label} | {statistics.median(xs):.1f} | {p99(xs):.1f} "
            f"| {min(xs):.1f} | {max(xs):.1f} |")
