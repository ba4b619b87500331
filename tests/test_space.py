from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import genepool as gp
from genepool.errors import SpaceError

MIXED = gp.Space(
    [
        gp.Real("lr", 1e-4, 1e-1, log=True),
        gp.Real("k", -2.0, 3.0),
        gp.Integer("window", 5, 50),
        gp.Categorical("ma", ["sma", "ema", "wma"]),
        gp.Bool("short"),
    ]
)


def test_sample_respects_bounds_and_dtype():
    X = MIXED.sample(1000, np.random.default_rng(0))
    assert X.shape == (1000, 5)
    assert X.dtype == np.float64
    assert MIXED.contains(X).all()
    X32 = MIXED.sample(10, np.random.default_rng(0), dtype=np.float32)
    assert X32.dtype == np.float32


def test_decode_types_and_ranges():
    X = MIXED.sample(5000, np.random.default_rng(1))
    p = MIXED.decode(X)
    assert p["lr"].dtype == np.float64 and ((p["lr"] >= 1e-4) & (p["lr"] <= 1e-1)).all()
    assert p["window"].dtype == np.int64
    assert p["window"].min() == 5 and p["window"].max() == 50
    assert set(p["ma"].tolist()) == {"sma", "ema", "wma"}
    assert p["short"].dtype == bool and set(p["short"].tolist()) == {False, True}


def test_integer_and_categorical_values_are_uniform_under_uniform_sampling():
    # The half-unit margins give every value the same share of the encoded range.
    X = MIXED.sample(200_000, np.random.default_rng(2))
    p = MIXED.decode(X)
    counts = np.bincount(p["window"] - 5, minlength=46)
    expected = 200_000 / 46
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))
    _, cat_counts = np.unique(p["ma"], return_counts=True)
    assert np.all(np.abs(cat_counts - 200_000 / 3) < 5 * np.sqrt(200_000 / 3))


def test_integer_decode_rounds_half_up_and_clips():
    g = gp.Integer("w", 5, 50)
    np.testing.assert_array_equal(
        g.decode(np.array([4.5, 5.4999, 5.5, 49.5, 50.5, 60.0, -3.0])), [5, 5, 6, 50, 50, 50, 5]
    )


def test_log_real_encodes_in_log10():
    g = gp.Real("lr", 1e-4, 1e-1, log=True)
    assert g.encoded_bounds == (-4.0, -1.0)
    np.testing.assert_allclose(g.decode(np.array([-3.0, -2.0])), [1e-3, 1e-2])


def test_encode_decode_round_trip():
    params = {
        "lr": [1e-3, 0.05],
        "k": [0.5, -1.0],
        "window": [5, 50],
        "ma": ["ema", "wma"],
        "short": [True, False],
    }
    X = MIXED.encode(params)
    assert X.shape == (2, 5)
    back = MIXED.decode(X)
    np.testing.assert_allclose(back["lr"], params["lr"])
    np.testing.assert_allclose(back["k"], params["k"])
    assert back["window"].tolist() == [5, 50]
    assert back["ma"].tolist() == ["ema", "wma"]
    assert back["short"].tolist() == [True, False]


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 50))
def test_decode_encode_decode_is_stable(seed, n):
    X = MIXED.sample(n, np.random.default_rng(seed))
    p = MIXED.decode(X)
    p2 = MIXED.decode(MIXED.encode(p))
    for name in MIXED.names:
        if p[name].dtype.kind == "f":
            np.testing.assert_allclose(p2[name], p[name], rtol=1e-12)
        else:
            np.testing.assert_array_equal(p2[name], p[name])


def test_decode_row_gives_python_scalars():
    row = MIXED.decode_row(
        MIXED.encode({"lr": 0.01, "k": 1.0, "window": 7, "ma": "sma", "short": True})[0]
    )
    assert row == {"lr": pytest.approx(0.01), "k": 1.0, "window": 7, "ma": "sma", "short": True}
    assert type(row["window"]) is int and type(row["short"]) is bool


def test_box_and_identity():
    s = gp.Space.box(-1.0, [1.0, 2.0, 3.0], 3)
    assert s.names == ("x0", "x1", "x2")
    np.testing.assert_array_equal(s.upper, [1.0, 2.0, 3.0])
    assert s.is_identity
    assert not MIXED.is_identity


def test_to_dict_round_trips_through_json():
    again = gp.Space.from_dict(json.loads(json.dumps(MIXED.to_dict())))
    assert again == MIXED


def test_mixed_type_choices_keep_their_types():
    g = gp.Categorical("c", [1, "a", None])
    out = g.decode(np.array([0.0, 1.0, 2.0]))
    assert out.tolist() == [1, "a", None]


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: gp.Real("a", 1.0, 1.0), "'a': low must be < high"),
        (lambda: gp.Real("a", 2.0, 1.0), "'a': low must be < high"),
        (lambda: gp.Real("a", float("nan"), 1.0), "'a': low must be finite"),
        (lambda: gp.Real("a", 0.0, float("inf")), "'a': high must be finite"),
        (lambda: gp.Real("a", 0.0, 1.0, log=True), "'a': log scale needs low > 0"),
        (lambda: gp.Integer("n", 1, 1), "'n': low must be < high"),
        (lambda: gp.Integer("n", 0.5, 3), "'n': low must be an integer"),
        (lambda: gp.Categorical("c", []), "'c': choices must not be empty"),
        (lambda: gp.Categorical("c", ["x", "x"]), "'c': choices must be distinct"),
        (lambda: gp.Categorical("c", "abc"), "'c': choices must be a list"),
        (lambda: gp.Real("", 0, 1), "gene name"),
        (lambda: gp.Space([gp.Real("a", 0, 1), gp.Integer("a", 0, 3)]), "duplicate gene name 'a'"),
        (lambda: gp.Space([]), "at least one gene"),
        (lambda: gp.Space.box(0, 1, 0), "dims must be a positive integer"),
    ],
)
def test_bad_specs_raise_space_error_naming_the_gene(make, fragment):
    with pytest.raises(SpaceError, match=fragment.replace("(", r"\(")):
        make()


def test_encode_rejects_bad_values():
    with pytest.raises(SpaceError, match="'ma'.*'hma' is not one of"):
        MIXED.encode({"lr": 0.01, "k": 1.0, "window": 7, "ma": "hma", "short": True})
    with pytest.raises(SpaceError, match="'window'.*not an integer"):
        MIXED.encode({"lr": 0.01, "k": 1.0, "window": 7.5, "ma": "sma", "short": True})
    with pytest.raises(SpaceError, match="'k'.*outside"):
        MIXED.encode({"lr": 0.01, "k": 9.0, "window": 7, "ma": "sma", "short": True})
    with pytest.raises(SpaceError, match="missing gene"):
        MIXED.encode({"lr": 0.01})
    with pytest.raises(SpaceError, match="unknown gene"):
        MIXED.encode({"lr": 0.01, "k": 1.0, "window": 7, "ma": "sma", "short": True, "z": 1})


def test_check_rejects_wrong_shapes_and_nonfinite():
    with pytest.raises(SpaceError, match=r"shape \(n, 5\)"):
        MIXED.check(np.zeros((3, 4)))
    X = np.zeros((3, 5))
    X[1, 2] = np.nan
    with pytest.raises(SpaceError, match="row 1"):
        MIXED.check(X)
