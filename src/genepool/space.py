"""Gene types and search spaces: bounds, sampling, encode/decode.

A population is one float array ``X`` of shape ``(n, d)`` in the *encoded* space: every gene is a
continuous coordinate between its encoded bounds, so every operator works on plain arrays.

=============  ==================================  =============================================
gene           encoded coordinate                  decoded value
=============  ==================================  =============================================
Real           the value itself (log10 with log)   ``float64``
Integer        ``[low - 0.5, high + 0.5]``          nearest integer, clipped: ``int64``
Categorical    ``[-0.5, k - 0.5]``                  ``choices[nearest index]``
Bool           ``[-0.5, 1.5]``                      ``bool``
=============  ==================================  =============================================

The half-unit margins give every integer (and every category) the same share of the encoded
range, so uniform sampling and uniform mutation are uniform over the decoded values too.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

import numpy as np
import numpy.typing as npt

from .errors import SpaceError

__all__ = [
    "BOOL",
    "CATEGORICAL",
    "INTEGER",
    "REAL",
    "Bool",
    "Categorical",
    "Gene",
    "Integer",
    "Real",
    "Space",
]

REAL, INTEGER, CATEGORICAL, BOOL = 0, 1, 2, 3

#: What a gene's ``encode`` takes: numbers (one or a 1-D array-like of them) or, for a
#: categorical, one choice or a sequence of choices (any hashable values).
GeneValues = Union[npt.ArrayLike, Hashable, Sequence[Hashable]]
_KIND_NAMES = {REAL: "real", INTEGER: "integer", CATEGORICAL: "categorical", BOOL: "bool"}


def _nearest_index(col: np.ndarray, low: float, high: float) -> np.ndarray:
    # floor(x + 0.5) rounds halves up (np.rint would round them to even, which is biased).
    return np.clip(np.floor(col + 0.5), low, high).astype(np.int64)


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise SpaceError(f"gene name must be a non-empty string, got {name!r}")
    return name


def _numbers(name: str, values: Any) -> np.ndarray:
    """``values`` (a number or a 1-D sequence of numbers) as float64, or :class:`SpaceError`
    naming the gene: text, None, booleans, mappings and nested sequences are not numbers."""
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError):  # ragged sequences
        arr = np.asarray(None)
    if arr.dtype == object and arr.ndim <= 1:  # e.g. Python ints beyond int64
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in arr.ravel()):
            arr = arr.astype(np.float64)
    if arr.dtype.kind not in "iuf" or arr.ndim > 1:
        raise SpaceError(
            f"gene {name!r}: value must be a number (or a 1-D sequence of numbers), got {values!r}"
        )
    return arr.astype(np.float64)


def _first(arr: np.ndarray) -> float | int:
    """The first element of ``arr`` as a plain Python number (messages never show np.float64)."""
    v = float(arr.ravel()[0])
    return int(v) if v.is_integer() and abs(v) < 2**53 else v


def _check_bound(name: str, field_name: str, value: Any) -> float:
    try:
        fvalue = float(value)
    except (TypeError, ValueError):
        raise SpaceError(f"gene {name!r}: {field_name} must be a number, got {value!r}") from None
    if not math.isfinite(fvalue):
        raise SpaceError(f"gene {name!r}: {field_name} must be finite, got {value!r}")
    return fvalue


class Gene:
    """Base class of gene types. Subclasses define the encoded bounds and the decoding."""

    kind: ClassVar[int]
    name: str

    @property
    def encoded_bounds(self) -> tuple[float, float]:
        raise NotImplementedError

    @property
    def n_choices(self) -> int:
        """Number of discrete values for categorical genes, 0 otherwise."""
        return 0

    def decode(self, col: np.ndarray) -> np.ndarray:
        """Decode one encoded column of shape ``(n,)`` into typed values of shape ``(n,)``."""
        raise NotImplementedError

    def encode(self, values: GeneValues) -> np.ndarray:
        """Encode typed values (array-like of shape ``(n,)``) into float coordinates."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class Real(Gene):
    """A real-valued gene in ``[low, high]``; with ``log=True`` searched on a log10 scale.

    Examples
    --------
    >>> Real("lr", 1e-4, 1e-1, log=True).encoded_bounds
    (-4.0, -1.0)
    """

    name: str
    low: float
    high: float
    log: bool = False
    kind: ClassVar[int] = REAL

    def __post_init__(self) -> None:
        _check_name(self.name)
        low = _check_bound(self.name, "low", self.low)
        high = _check_bound(self.name, "high", self.high)
        if low >= high:
            raise SpaceError(f"gene {self.name!r}: low must be < high, got low={low}, high={high}")
        if self.log and low <= 0:
            raise SpaceError(f"gene {self.name!r}: log scale needs low > 0, got low={low}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @property
    def encoded_bounds(self) -> tuple[float, float]:
        if self.log:
            return math.log10(self.low), math.log10(self.high)
        return self.low, self.high

    def decode(self, col: np.ndarray) -> np.ndarray:
        col = np.asarray(col, dtype=np.float64)
        if self.log:
            return np.clip(10.0**col, self.low, self.high)
        return col.copy()

    def encode(self, values: GeneValues) -> np.ndarray:
        arr = _numbers(self.name, values)
        bad = ~np.isfinite(arr) | (arr < self.low) | (arr > self.high)
        if bad.any():
            raise SpaceError(
                f"gene {self.name!r}: value {_first(arr[bad])!r} is outside "
                f"[{self.low}, {self.high}]"
            )
        return np.log10(arr) if self.log else arr

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "real",
            "name": self.name,
            "low": self.low,
            "high": self.high,
            "log": self.log,
        }


@dataclass(frozen=True)
class Integer(Gene):
    """An integer gene in ``[low, high]``, both inclusive.

    Examples
    --------
    >>> import numpy as np
    >>> Integer("window", 5, 50).decode(np.array([4.5, 5.49, 17.5, 50.5]))
    array([ 5,  5, 18, 50])
    """

    name: str
    low: int
    high: int
    kind: ClassVar[int] = INTEGER

    def __post_init__(self) -> None:
        _check_name(self.name)
        for field_name in ("low", "high"):
            value = getattr(self, field_name)
            fvalue = _check_bound(self.name, field_name, value)
            if fvalue != int(fvalue):
                raise SpaceError(
                    f"gene {self.name!r}: {field_name} must be an integer, got {value!r}"
                )
            object.__setattr__(self, field_name, int(fvalue))
        if self.low >= self.high:
            raise SpaceError(
                f"gene {self.name!r}: low must be < high, got low={self.low}, high={self.high}"
            )

    @property
    def encoded_bounds(self) -> tuple[float, float]:
        return self.low - 0.5, self.high + 0.5

    def decode(self, col: np.ndarray) -> np.ndarray:
        return _nearest_index(np.asarray(col, dtype=np.float64), self.low, self.high)

    def encode(self, values: GeneValues) -> np.ndarray:
        arr = _numbers(self.name, values)
        bad = ~np.isfinite(arr) | (arr != np.round(arr)) | (arr < self.low) | (arr > self.high)
        if bad.any():
            raise SpaceError(
                f"gene {self.name!r}: value {_first(arr[bad])!r} is not an integer in "
                f"[{self.low}, {self.high}]"
            )
        return arr

    def to_dict(self) -> dict[str, Any]:
        return {"type": "integer", "name": self.name, "low": self.low, "high": self.high}


def _choices_array(choices: tuple[Hashable, ...]) -> np.ndarray:
    kinds = {type(c) for c in choices}
    if len(kinds) == 1 and kinds <= {int, float, str, bool}:
        return np.asarray(choices)
    arr = np.empty(len(choices), dtype=object)
    arr[:] = choices
    return arr


@dataclass(frozen=True)
class Categorical(Gene):
    """A gene taking one of ``choices`` (any hashable values, searched by index).

    Examples
    --------
    >>> import numpy as np
    >>> Categorical("ma", ["sma", "ema"]).decode(np.array([-0.2, 0.7]))
    array(['sma', 'ema'], dtype='<U3')
    """

    name: str
    choices: Sequence[Hashable]  # stored as a tuple (see __post_init__)
    kind: ClassVar[int] = CATEGORICAL
    _values: np.ndarray = field(init=False, repr=False, compare=False)
    _index: dict[Hashable, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if isinstance(self.choices, (str, bytes)) or not isinstance(self.choices, Sequence):
            raise SpaceError(
                f"gene {self.name!r}: choices must be a list or tuple, got {self.choices!r}"
            )
        choices = tuple(self.choices)
        if not choices:
            raise SpaceError(f"gene {self.name!r}: choices must not be empty")
        try:
            index = {c: i for i, c in enumerate(choices)}
        except TypeError:
            raise SpaceError(f"gene {self.name!r}: choices must be hashable") from None
        if len(index) != len(choices):
            raise SpaceError(f"gene {self.name!r}: choices must be distinct, got {choices!r}")
        object.__setattr__(self, "choices", choices)
        object.__setattr__(self, "_values", _choices_array(choices))
        object.__setattr__(self, "_index", index)

    @property
    def n_choices(self) -> int:
        return len(self.choices)

    @property
    def encoded_bounds(self) -> tuple[float, float]:
        return -0.5, len(self.choices) - 0.5

    def indices(self, col: np.ndarray) -> np.ndarray:
        """Index into ``choices`` of each encoded value."""
        return _nearest_index(np.asarray(col, dtype=np.float64), 0, len(self.choices) - 1)

    def decode(self, col: np.ndarray) -> np.ndarray:
        return self._values[self.indices(col)]

    def encode(self, values: GeneValues) -> np.ndarray:
        flat = np.asarray(values, dtype=object).ravel()
        out = np.empty(flat.shape, dtype=np.float64)
        for i, value in enumerate(flat):
            try:
                out[i] = self._index[value.item() if isinstance(value, np.generic) else value]
            except (KeyError, TypeError):
                raise SpaceError(
                    f"gene {self.name!r}: {value!r} is not one of {list(self.choices)!r}"
                ) from None
        return out.reshape(np.shape(values))  # type: ignore[arg-type]  # any object has a shape

    def to_dict(self) -> dict[str, Any]:
        return {"type": "categorical", "name": self.name, "choices": list(self.choices)}


@dataclass(frozen=True)
class Bool(Gene):
    """A boolean gene (a two-way categorical that decodes to ``bool``)."""

    name: str
    kind: ClassVar[int] = BOOL

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def n_choices(self) -> int:
        return 2

    @property
    def encoded_bounds(self) -> tuple[float, float]:
        return -0.5, 1.5

    def decode(self, col: np.ndarray) -> np.ndarray:
        return _nearest_index(np.asarray(col, dtype=np.float64), 0, 1).astype(bool)

    def encode(self, values: GeneValues) -> np.ndarray:
        arr = np.asarray(values)
        if arr.dtype != bool:
            flat = arr.ravel()
            if not all(v in (0, 1) and not isinstance(v, float) for v in flat.tolist()):
                raise SpaceError(f"gene {self.name!r}: values must be booleans, got {values!r}")
        return arr.astype(np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "bool", "name": self.name}


_GENE_TYPES: dict[str, type[Gene]] = {
    "real": Real,
    "integer": Integer,
    "categorical": Categorical,
    "bool": Bool,
}


class Space:
    """An ordered set of genes: the search space of an optimizer.

    Parameters
    ----------
    genes : sequence of Gene
        ``Real``, ``Integer``, ``Categorical`` and ``Bool`` genes with distinct names.

    Attributes
    ----------
    lower, upper : ndarray of shape (d,)
        Encoded bounds of each gene.
    kinds : ndarray of shape (d,)
        Gene kind codes (``REAL``, ``INTEGER``, ``CATEGORICAL``, ``BOOL``).

    Examples
    --------
    >>> import numpy as np
    >>> space = Space([Integer("window", 5, 50), Real("k", 1.0, 3.0), Bool("short")])
    >>> X = space.sample(4, np.random.default_rng(0))
    >>> X.shape
    (4, 3)
    >>> params = space.decode(X)
    >>> params["window"].dtype, params["short"].dtype
    (dtype('int64'), dtype('bool'))
    >>> np.array_equal(space.decode(space.encode(params))["window"], params["window"])
    True
    """

    def __init__(self, genes: Sequence[Gene]) -> None:
        if isinstance(genes, Gene):
            genes = [genes]
        genes = list(genes)
        if not genes:
            raise SpaceError("a space needs at least one gene")
        seen: set[str] = set()
        for i, gene in enumerate(genes):
            if not isinstance(gene, Gene):
                raise SpaceError(
                    f"genes[{i}] must be a Real, Integer, Categorical or Bool, got {gene!r}"
                )
            if gene.name in seen:
                raise SpaceError(f"duplicate gene name {gene.name!r}")
            seen.add(gene.name)
        self.genes: tuple[Gene, ...] = tuple(genes)
        self.names: tuple[str, ...] = tuple(g.name for g in genes)
        bounds = np.array([g.encoded_bounds for g in genes], dtype=np.float64)
        self.lower: np.ndarray = bounds[:, 0].copy()
        self.upper: np.ndarray = bounds[:, 1].copy()
        self.kinds: np.ndarray = np.array([g.kind for g in genes], dtype=np.int8)
        self.n_choices: np.ndarray = np.array([g.n_choices for g in genes], dtype=np.int64)
        for arr in (self.lower, self.upper, self.kinds, self.n_choices):
            arr.flags.writeable = False
        self._by_name = {g.name: g for g in genes}
        self._identity = all(g.kind == REAL and not g.log for g in genes)  # type: ignore[attr-defined]

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def box(
        cls,
        low: float | Sequence[float],
        high: float | Sequence[float],
        dims: int,
        prefix: str = "x",
    ) -> Space:
        """A space of ``dims`` real genes named ``x0 .. x{dims-1}`` with the given bounds.

        ``low`` and ``high`` are scalars or sequences of length ``dims``.

        Examples
        --------
        >>> Space.box(-5.12, 5.12, 3).names
        ('x0', 'x1', 'x2')
        """
        if isinstance(dims, bool) or not isinstance(dims, (int, np.integer)) or dims < 1:
            raise SpaceError(f"dims must be a positive integer, got {dims!r}")
        lows = np.broadcast_to(np.asarray(low, dtype=np.float64), (dims,))
        highs = np.broadcast_to(np.asarray(high, dtype=np.float64), (dims,))
        return cls([Real(f"{prefix}{i}", lows[i], highs[i]) for i in range(dims)])

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Space:
        """Rebuild a space from :meth:`to_dict` output (JSON-compatible)."""
        genes = []
        for g in spec["genes"]:
            g = dict(g)
            kind = g.pop("type")
            if kind not in _GENE_TYPES:
                raise SpaceError(f"unknown gene type {kind!r}")
            genes.append(_GENE_TYPES[kind](**g))
        return cls(genes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible description of the space."""
        return {"genes": [g.to_dict() for g in self.genes]}

    # -- container protocol ------------------------------------------------------------------
    @property
    def dims(self) -> int:
        """Number of genes ``d``."""
        return len(self.genes)

    def __len__(self) -> int:
        return len(self.genes)

    def __iter__(self) -> Iterator[Gene]:
        return iter(self.genes)

    def __getitem__(self, name: str) -> Gene:
        try:
            return self._by_name[name]
        except KeyError:
            raise SpaceError(f"no gene named {name!r}; genes are {list(self.names)}") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and self.genes == other.genes

    def __hash__(self) -> int:
        return hash(self.genes)

    def __repr__(self) -> str:
        if len(self.genes) > 6:
            kinds = ", ".join(
                f"{np.sum(self.kinds == k)} {n}"
                for k, n in _KIND_NAMES.items()
                if np.any(self.kinds == k)
            )
            return f"Space({len(self.genes)} genes: {kinds})"
        return f"Space({list(self.genes)!r})"

    # -- arrays ------------------------------------------------------------------------------
    def check(self, X: npt.ArrayLike, name: str = "X") -> np.ndarray:
        """Return ``X`` as a 2-D float array of shape ``(n, d)`` or raise :class:`SpaceError`."""
        arr = np.asarray(X)
        if arr.ndim != 2 or arr.shape[1] != self.dims:
            raise SpaceError(f"{name} must have shape (n, {self.dims}), got {arr.shape}")
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)
        if not np.isfinite(arr).all():
            row = int(np.nonzero(~np.isfinite(arr).all(axis=1))[0][0])
            raise SpaceError(f"{name} has non-finite values in row {row}")
        return arr

    def sample(
        self, n: int, rng: np.random.Generator, dtype: npt.DTypeLike = np.float64
    ) -> np.ndarray:
        """Draw ``n`` encoded individuals uniformly within the bounds: shape ``(n, d)``."""
        X = rng.uniform(self.lower, self.upper, size=(int(n), self.dims))
        return X.astype(dtype, copy=False)

    def sample_into(self, out: np.ndarray, rng: np.random.Generator, rows: int) -> np.ndarray:
        """Fill ``out`` (shape ``(n, d)``, e.g. a memory-mapped file) with what
        :meth:`sample` draws for ``n``, ``rows`` rows at a time: ``rng.uniform`` draws in row
        order, so the values do not depend on ``rows``."""
        n = out.shape[0]
        for a in range(0, n, max(1, int(rows))):
            b = min(n, a + max(1, int(rows)))
            out[a:b] = rng.uniform(self.lower, self.upper, size=(b - a, self.dims))
        return out

    def clip(self, X: np.ndarray) -> np.ndarray:
        """Clip ``X`` (in place when writable) to the encoded bounds and return it."""
        return np.clip(X, self.lower, self.upper, out=X if X.flags.writeable else None)

    def contains(self, X: np.ndarray) -> np.ndarray:
        """Boolean mask of shape ``(n,)``: rows within the encoded bounds."""
        return np.all((X >= self.lower) & (X <= self.upper), axis=1)

    def decode(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Typed parameters of each row, columnar: ``{name: array of shape (n,)}``."""
        X = np.asarray(X)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.dims:
            raise SpaceError(f"X must have shape (n, {self.dims}), got {X.shape}")
        return {g.name: g.decode(X[:, j]) for j, g in enumerate(self.genes)}

    def decode_row(self, x: np.ndarray) -> dict[str, Any]:
        """Typed parameters of one individual as Python scalars: ``{name: value}``."""
        cols = self.decode(np.asarray(x).reshape(1, -1))
        return {
            k: (v[0].item() if isinstance(v[0], np.generic) else v[0]) for k, v in cols.items()
        }

    def encode(self, params: Mapping[str, GeneValues]) -> np.ndarray:
        """Encode typed parameters (scalars or equal-length arrays per gene) into ``(n, d)``."""
        if not isinstance(params, Mapping):
            raise SpaceError(f"params must be a mapping of gene name to values, got {params!r}")
        unknown = set(params) - set(self.names)
        if unknown:
            raise SpaceError(f"unknown gene(s) {sorted(unknown)}; genes are {list(self.names)}")
        missing = [n for n in self.names if n not in params]
        if missing:
            raise SpaceError(f"missing gene(s) {missing}")
        cols = [np.atleast_1d(g.encode(params[g.name])) for g in self.genes]
        lengths = {len(c) for c in cols}
        if len(lengths) != 1:
            raise SpaceError(
                f"params have different lengths: "
                f"{ {g.name: len(c) for g, c in zip(self.genes, cols)} }"
            )
        return np.stack(cols, axis=1).astype(np.float64)

    @property
    def is_identity(self) -> bool:
        """True when every gene is a linear Real, i.e. the encoded ``X`` is the decoded value."""
        return self._identity
