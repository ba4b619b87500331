"""The constraints of each strategy family, its search space and the check of user parameters.

Two kinds of constraints:

- **limits** of one parameter (:data:`LIMITS`): windows are whole bars, at least 2 for ``rsi``,
  ``bollinger`` and ``macd``'s ``signal`` (an RSI or a standard deviation of one bar is
  degenerate, and a one-bar signal EMA is the MACD line itself), at least 1 elsewhere (an MA of
  one bar is the close); RSI levels within ``[0, 100]``; ``k > 0``; ``0 < stop_loss < 1``;
  ``take_profit > 0``. The search ranges (``ranges=``, ``--ranges``) must lie within them.
- **orders** between two parameters (:data:`ORDERED`): ``fast < slow`` for ``ma_cross`` and
  ``macd``, ``lower < upper`` for ``rsi``. The ranges may overlap (the default ``ma_cross``
  ranges, fast 2..50 and slow 10..200, do); :class:`StrategySpace` decodes every genome into an
  ordered pair (see there), so no strategy the GA evaluates or reports breaks them.

:func:`check_params` validates one user-given strategy (``genepool backtest --params``) against
the limits, the orders and the length of the data, not against the GA's search box.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np

from ..errors import ConfigError, DataError, SpaceError
from ..space import INTEGER, REAL, Categorical, Gene, GeneValues, Integer, Real, Space
from .strategies import STOP_GENES, get_family

__all__ = [
    "LIMITS",
    "ORDERED",
    "Limit",
    "StrategySpace",
    "check_params",
    "params_ranges",
    "strategy_space",
]


@dataclass(frozen=True)
class Limit:
    """Allowed values of one parameter: ``low``/``high`` (None: unbounded), open or closed."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def ok(self, v: float) -> bool:
        if not math.isfinite(v):
            return False
        if self.low is not None and (v <= self.low if self.open_low else v < self.low):
            return False
        return self.high is None or (v < self.high if self.open_high else v <= self.high)

    def text(self) -> str:
        lo = None if self.low is None else f"{'>' if self.open_low else '>='} {_num(self.low)}"
        hi = None if self.high is None else f"{'<' if self.open_high else '<='} {_num(self.high)}"
        return " and ".join(t for t in (lo, hi) if t)


#: Limits of each family's parameters (and of the stop genes, under ``"stops"``).
LIMITS: dict[str, dict[str, Limit]] = {
    "rsi": {"window": Limit(2), "lower": Limit(0.0, 100.0), "upper": Limit(0.0, 100.0)},
    "ma_cross": {"fast": Limit(1), "slow": Limit(1)},
    "bollinger": {"window": Limit(2), "k": Limit(0.0, open_low=True)},
    "macd": {"fast": Limit(1), "slow": Limit(1), "signal": Limit(2)},
    "breakout": {"window": Limit(1)},
    "stops": {
        "stop_loss": Limit(0.0, 1.0, open_low=True, open_high=True),
        "take_profit": Limit(0.0, open_low=True),
    },
}

#: Pairs ``(a, b)`` with ``a < b`` in every strategy of a family.
ORDERED: dict[str, tuple[tuple[str, str], ...]] = {
    "rsi": (("lower", "upper"),),
    "ma_cross": (("fast", "slow"),),
    "macd": (("fast", "slow"),),
}

_STOP_NAMES = tuple(g.name for g in STOP_GENES)


def _num(v: Any) -> str:
    """A number as a user wrote it: ``20``, ``0.5`` (never ``np.float64(...)``)."""
    v = v.item() if isinstance(v, np.generic) else v
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


# -- decoding into ordered pairs -----------------------------------------------------------------
def _stretch_int(a: np.ndarray, raw: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Map ``raw`` in ``[lo, hi]`` monotonically onto ``[max(lo, a + 1), hi]``."""
    flo = np.maximum(lo, a + 1)
    return flo + ((raw - lo) * (hi - flo + 1)) // (hi - lo + 1)


def _unstretch_int(a: np.ndarray, b: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """The smallest ``raw`` with ``_stretch_int(a, raw) == b`` (``b`` feasible)."""
    flo = np.maximum(lo, a + 1)
    return lo - (-((b - flo) * (hi - lo + 1)) // (hi - flo + 1))


def _stretch_real(a: np.ndarray, raw: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map ``raw`` in ``[lo, hi]`` onto ``[max(lo, next float above a), hi]`` (identity where
    ``a < lo``, so non-overlapping ranges decode exactly as plain genes)."""
    flo = np.maximum(lo, np.nextafter(a, np.inf))
    scaled = flo + (raw - lo) * ((hi - flo) / (hi - lo))
    return np.where(flo > lo, np.clip(scaled, flo, hi), raw)


def _unstretch_real(a: np.ndarray, b: np.ndarray, lo: float, hi: float) -> np.ndarray:
    flo = np.maximum(lo, np.nextafter(a, np.inf))
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(flo > lo, lo + (b - flo) * ((hi - lo) / (hi - flo)), b)
    raw = np.clip(raw, lo, hi)
    for _ in range(8):  # float rounding: step to the neighbour that decodes to b exactly
        got = _stretch_real(a, raw, lo, hi)
        off = got != b
        if not off.any():
            break
        raw = np.where(off, np.clip(np.nextafter(raw, np.where(got < b, hi, lo)), lo, hi), raw)
    return raw


class StrategySpace(Space):
    """A :class:`Space` whose decoding keeps ordered pairs ordered (``fast < slow``).

    Each gene keeps its own range, and a genome is decoded gene by gene as in :class:`Space`;
    then, for each ordered pair ``(a, b)``, ``b``'s decoded value is mapped monotonically from
    its range ``[lo, hi]`` onto the feasible part ``[max(lo, a + 1), hi]`` (the next float above
    ``a`` for real genes). So every genome in the box is a valid strategy, every valid strategy
    in the box has a genome (:meth:`encode` inverts the map), uniform sampling stays uniform
    over ``b`` given ``a``, and nearby genomes decode to nearby strategies, which the GA's
    variation relies on. A repair that moves invalid values to the boundary would instead pile
    the population up on ``slow = fast + 1``. Where the ranges do not overlap (``rsi``'s and
    ``macd``'s defaults) the map is the identity.

    The decoded pair is a function of the genes' per-gene decoded values, so the exact cache
    keys (integer genes keyed by their rounded value) stay exact; :meth:`canonical` maps the
    genomes of one strategy onto one key, so duplicates are recognized as such.
    """

    def __init__(self, genes: Sequence[Gene], ordered: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(genes)
        pairs = []
        for a, b in ordered:
            ga, gb = self[a], self[b]
            if ga.kind not in (INTEGER, REAL) or gb.kind != ga.kind or getattr(gb, "log", False):
                raise SpaceError(f"ordered genes {a!r} < {b!r} must be two linear numeric genes")
            if not ga.high < gb.high:  # type: ignore[attr-defined]
                raise SpaceError(
                    f"{a}'s highest value {_num(ga.high)} must be below {b}'s highest "  # type: ignore[attr-defined]
                    f"{_num(gb.high)}, or some {a} would have no {b} above it"  # type: ignore[attr-defined]
                )
            pairs.append((self.names.index(a), self.names.index(b)))
        self.ordered: tuple[tuple[int, int], ...] = tuple(pairs)

    def decode(self, X: np.ndarray) -> dict[str, np.ndarray]:
        out = super().decode(X)
        for ia, ib in self.ordered:
            ga, gb = self.genes[ia], self.genes[ib]
            stretch = _stretch_int if gb.kind == INTEGER else _stretch_real
            out[gb.name] = stretch(out[ga.name], out[gb.name], gb.low, gb.high)  # type: ignore[attr-defined]
        return out

    def encode(self, params: Mapping[str, GeneValues]) -> np.ndarray:
        """Encode valid parameters; an unordered pair raises :class:`SpaceError` naming both."""
        X = super().encode(params)
        for ia, ib in self.ordered:
            ga, gb = self.genes[ia], self.genes[ib]
            a, b = ga.decode(X[:, ia]), gb.decode(X[:, ib])
            bad = ~(a < b)
            if bad.any():
                i = int(np.argmax(bad))
                raise SpaceError(
                    f"{ga.name} ({_num(a[i])}) must be below {gb.name} ({_num(b[i])})"
                )
            unstretch = _unstretch_int if gb.kind == INTEGER else _unstretch_real
            X[:, ib] = unstretch(a, b, gb.low, gb.high)  # type: ignore[attr-defined]
        return X

    def canonical(self, X: np.ndarray) -> np.ndarray:
        """``X`` with each integer ``b`` gene replaced by the one genome of its decoded value.

        Keys computed from it (cache, hall of fame, trial sketch) are equal exactly when the
        decoded strategies are; the evaluated genomes are not changed.
        """
        X = np.asarray(X)
        fix = [(ia, ib) for ia, ib in self.ordered if self.genes[ib].kind == INTEGER]
        if not fix or X.ndim != 2 or X.shape[1] != self.dims:
            return X
        X = np.array(X, dtype=np.float64)
        for ia, ib in fix:
            ga, gb = self.genes[ia], self.genes[ib]
            a, raw = ga.decode(X[:, ia]), gb.decode(X[:, ib])
            b = _stretch_int(a, raw, gb.low, gb.high)  # type: ignore[attr-defined]
            X[:, ib] = _unstretch_int(a, b, gb.low, gb.high)  # type: ignore[attr-defined]
        return X


# -- the search space ---------------------------------------------------------------------------
def _limits(family: str) -> dict[str, Limit]:
    return {**LIMITS[family], **LIMITS["stops"]}


def _is_number(v: object) -> TypeGuard[float]:  # int, float or a numpy number
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _ranged(gene: Gene, value: Any, family: str) -> Gene:
    """``gene`` with the range ``value`` (``[low, high]``), validated (ConfigError)."""
    name = gene.name
    if isinstance(gene, Categorical):
        raise ConfigError(
            f"ranges: {name} is a choice among {list(gene.choices)}, not a range; "
            f"leave it out of the ranges"
        )
    if (
        isinstance(value, (str, bytes))
        or not isinstance(value, Sequence)
        or len(value) != 2
        or not all(_is_number(v) for v in value)
    ):
        raise ConfigError(f"ranges: {name} must be [low, high] (two numbers), got {value!r}")
    lo, hi = (float(v) for v in value)
    if isinstance(gene, Integer) and not (lo.is_integer() and hi.is_integer()):
        raise ConfigError(
            f"ranges: {name} is a whole number of bars; got [{_num(value[0])}, {_num(value[1])}]"
        )
    if not lo < hi:
        raise ConfigError(
            f"ranges: {name} low must be below high, got [{_num(value[0])}, {_num(value[1])}]"
        )
    limit = _limits(family)[name]
    for v in (lo, hi):
        if not limit.ok(v):
            raise ConfigError(
                f"ranges: {name} [{_num(lo)}, {_num(hi)}] breaks the {family} family's "
                f"constraint {name} {limit.text()} ({_num(v)})"
            )
    return Integer(name, int(lo), int(hi)) if isinstance(gene, Integer) else Real(name, lo, hi)


def strategy_space(
    family: str, stops: bool = False, ranges: Mapping[str, Sequence[float]] | None = None
) -> StrategySpace:
    """The search space of ``family`` (with the stop genes if ``stops``), with its ranges.

    Parameters
    ----------
    family : str
        Strategy family name.
    stops : bool
        Add the ``stop_loss`` and ``take_profit`` genes.
    ranges : mapping of gene name to ``[low, high]``, optional
        Search ranges that replace the defaults, e.g. ``{"window": [5, 100]}``; they must lie
        within the family's limits (:data:`LIMITS`), and for an ordered pair ``a < b`` the
        highest ``a`` must be below the highest ``b``. ConfigError names the gene and values.

    Examples
    --------
    >>> space = strategy_space("ma_cross", ranges={"fast": [5, 100], "slow": [20, 300]})
    >>> space["slow"]
    Integer(name='slow', low=20, high=300)
    """
    fam = get_family(family)
    genes = fam.genes() + (list(STOP_GENES) if stops else [])
    by_name = {g.name: i for i, g in enumerate(genes)}
    if ranges is not None:
        if not isinstance(ranges, Mapping):
            raise ConfigError(
                f'ranges must map gene names to [low, high], e.g. {{"window": [5, 100]}}; '
                f"got {ranges!r}"
            )
        for name, value in ranges.items():
            if name not in by_name:
                hint = " (they need --stops)" if name in _STOP_NAMES else ""
                raise ConfigError(
                    f"ranges: unknown gene {name!r} of the {fam.name} family{hint}; its genes "
                    f"are {list(by_name)}"
                )
            genes[by_name[name]] = _ranged(genes[by_name[name]], value, fam.name)
    ordered = ORDERED.get(fam.name, ())
    for a, b in ordered:
        ga, gb = genes[by_name[a]], genes[by_name[b]]
        if not ga.high < gb.high:  # type: ignore[attr-defined]
            raise ConfigError(
                f"ranges: {a} [{_num(ga.low)}, {_num(ga.high)}] and {b} "  # type: ignore[attr-defined]
                f"[{_num(gb.low)}, {_num(gb.high)}]: the {fam.name} family needs {a} < {b}, "  # type: ignore[attr-defined]
                f"so the highest {a} must be below the highest {b}"
            )
    return StrategySpace(genes, ordered)


# -- one user-given strategy ----------------------------------------------------------------------
def check_params(
    family: str, params: Mapping[str, object], *, n_bars: int | None = None
) -> dict[str, float | str]:
    """Validate one strategy's parameters against its family's constraints (not a search box).

    ``stop_loss`` and ``take_profit`` are allowed together. Returns the parameters as Python
    scalars (whole-number windows as ``int``). Raises ConfigError naming the parameter and its
    value, or DataError when ``n_bars`` is too short for the windows.

    Examples
    --------
    >>> check_params("rsi", {"window": 60, "lower": 35, "upper": 65})
    {'window': 60, 'lower': 35.0, 'upper': 65.0}
    >>> check_params("ma_cross", {"fast": 50, "slow": 20, "ma": "sma"})
    Traceback (most recent call last):
    ...
    genepool.errors.ConfigError: ma_cross needs fast < slow, got fast 50 and slow 20
    """
    fam = get_family(family)
    if not isinstance(params, Mapping):
        raise ConfigError(f"parameters must be a mapping of name to value, got {params!r}")
    genes = fam.genes()
    if any(k in params for k in _STOP_NAMES):
        genes += list(STOP_GENES)
    names = [g.name for g in genes]
    unknown = [k for k in params if k not in names]
    if unknown:
        raise ConfigError(
            f"unknown gene(s) {unknown} of the {fam.name} family; its parameters are "
            f"{names} (stop_loss and take_profit optional, together)"
        )
    missing = [n for n in names if n not in params]
    if missing:
        raise ConfigError(
            f"missing gene(s) {missing} of the {fam.name} family; its parameters are {names}"
        )
    limits = _limits(fam.name)
    out: dict[str, Any] = {}
    for g in genes:
        v = params[g.name]
        v = v.item() if isinstance(v, np.generic) else v
        if isinstance(g, Categorical):
            if v not in g.choices:
                raise ConfigError(f"{g.name} must be one of {list(g.choices)}, got {v!r}")
            out[g.name] = v
            continue
        if not _is_number(v) or not math.isfinite(v):
            raise ConfigError(f"{g.name} must be a number, got {v!r}")
        if isinstance(g, Integer):
            if not float(v).is_integer():
                raise ConfigError(f"{g.name} must be a whole number of bars, got {_num(v)}")
            v = int(v)
        else:
            v = float(v)
        if not limits[g.name].ok(v):
            raise ConfigError(f"{g.name} must be {limits[g.name].text()}, got {_num(v)}")
        out[g.name] = v
    for a, b in ORDERED.get(fam.name, ()):
        if not out[a] < out[b]:
            raise ConfigError(
                f"{fam.name} needs {a} < {b}, got {a} {_num(out[a])} and {b} {_num(out[b])}"
            )
    if n_bars is not None:
        need = fam.longest_window({k: np.array([v]) for k, v in out.items()})
        if n_bars <= need:
            windows = ", ".join(f"{g.name} {out[g.name]}" for g in genes if isinstance(g, Integer))
            raise DataError(
                f"the data have {n_bars:,} bars, too few for {fam.name} with {windows} "
                f"(it needs more than {need} bars)"
            )
    return out


def params_ranges(family: str, params: Mapping[str, float | str]) -> dict[str, list[float]]:
    """Narrow search ranges that hold the valid ``params`` (from :func:`check_params`), so a
    :class:`StrategySpace` built with them encodes and decodes exactly these parameters."""
    limits = _limits(family)
    ranges: dict[str, list[float]] = {}
    for name, v in params.items():
        if not _is_number(v):
            continue
        step = 1 if isinstance(v, int) else 1e-9 * max(1.0, abs(v))
        ranges[name] = [v - step, v] if limits[name].ok(v - step) else [v, v + step]
    for a, b in ORDERED.get(family, ()):  # ordered genes are numbers, never a str choice
        lo_b, hi_b = ranges[b]
        if not ranges[a][1] < hi_b or (not isinstance(params[b], int) and lo_b <= ranges[a][1]):
            step = 1 if isinstance(params[b], int) else 1e-9 * max(1.0, abs(params[b]))  # type: ignore[arg-type]
            ranges[b] = [params[b], params[b] + step]  # type: ignore[list-item, operator]
    return ranges
