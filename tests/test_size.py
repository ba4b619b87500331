"""``parse_size`` and ``format_size`` against hand-computed values and the exact twin in
``naive.py`` (decimal text times the unit, in fractions)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive
from genepool.errors import ConfigError
from genepool.memory._size import format_size, parse_size


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1B", 1),
        ("2KB", 2_000),
        ("3MB", 3_000_000),
        ("4GB", 4_000_000_000),
        ("5TB", 5_000_000_000_000),
        ("6K", 6_000),
        ("7M", 7_000_000),
        ("8G", 8_000_000_000),
        ("9T", 9_000_000_000_000),
        ("1KiB", 1024),
        ("2MiB", 2 * 1024 * 1024),
        ("3GiB", 3 * 1024 * 1024 * 1024),
        ("4TiB", 4 * 1024 * 1024 * 1024 * 1024),
        ("512mib", 536_870_912),
        ("2gb", 2_000_000_000),
        ("2 gB", 2_000_000_000),
        ("1.5 kb", 1_500),
        ("  12 MB  ", 12_000_000),
        ("0.5KiB", 512),
        (".25 kib", 256),
        ("1.001KB", 1_001),
        ("4.35MB", 4_350_000),
        ("2.7B", 2),
        ("2e3 B", 2_000),
        ("1E3KB", 1_000_000),
        ("123", 123),
        ("7 b", 7),
        (123, 123),
        (np.int64(5), 5),
        (np.uint32(4096), 4096),
        (1e9, 1_000_000_000),
        (np.float64(2.0), 2),
        (2**70, 2**70),
    ],
)
def test_parse_size_units(value, expected):
    got = parse_size(value)
    assert got == expected and type(got) is int


_unit = st.sampled_from(
    ["B", "KB", "MB", "GB", "TB", "K", "M", "G", "T", "KiB", "MiB", "GiB", "TiB", ""]
)


@settings(max_examples=200, deadline=None)
@given(
    whole=st.integers(0, 99_999),
    frac=st.integers(0, 999),
    unit=_unit,
    flip=st.lists(st.booleans(), min_size=3, max_size=3),
    space=st.sampled_from(["", " ", "  "]),
)
def test_parse_size_decimals_are_exact(whole, frac, unit, flip, space):
    number = f"{whole}.{frac:03d}"
    mixed = "".join(c.swapcase() if f else c for c, f in zip(unit, flip)) + unit[len(flip) :]
    expected = naive.size_bytes(number, unit or "b")
    text = f"{space}{number}{space}{mixed}{space}"
    if expected < 1:
        with pytest.raises(ConfigError):
            parse_size(text)
    else:
        assert parse_size(text) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "abc",
        "2XB",
        "2 K B",
        "1.2.3MB",
        "MB",
        "-1MB",
        "+1MB",
        "1,5MB",
        "0B",
        "0.5B",
        "1e-400",
        "1e400GB",
        "1e999999999KB",
        -1,
        0,
        0.0,
        0.4,
        -3.5,
        True,
        False,
        None,
        float("nan"),
        float("inf"),
        np.nan,
        10**400,
        [1],
        b"1MB",
    ],
)
def test_parse_size_rejects_nonsense_naming_the_field(value):
    with pytest.raises(ConfigError, match="cache_budget"):
        parse_size(value, "cache_budget")


def test_parse_size_default_name():
    with pytest.raises(ConfigError, match="memory_limit"):
        parse_size("lots")


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (10 * 1024**2, "10.0 MiB"),
        (3 * 2**30, "3.0 GiB"),
        (5 * 2**40, "5.0 TiB"),
        (2**50, "1024.0 TiB"),
        (1_000_000, "976.6 KiB"),
    ],
)
def test_format_size(n, text):
    assert format_size(n) == text


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1024, 2**45))
def test_format_then_parse_round_trips_within_the_shown_precision(n):
    back = parse_size(format_size(n))
    # One decimal of a value >= 1.0 in its unit: at most 0.05 / 1.0 off.
    assert abs(back - n) <= 0.05 * n + 1
