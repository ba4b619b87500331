"""``param_space`` of :class:`~genepool.ml.GASearchCV` -> a genepool :class:`~genepool.Space`.

Accepted per parameter (the key names the parameter, ``__`` paths included):

- a genepool gene (``Real``, ``Integer``, ``Categorical``, ``Bool``); it takes the key's name;
- a list or tuple of values -> a categorical over them (values may be unhashable: the gene
  searches their positions, :func:`decode_params` maps back);
- a frozen ``scipy.stats`` distribution: ``randint(a, b)`` -> ``Integer(a, b - 1)``,
  ``uniform(loc, scale)`` -> ``Real(loc, loc + scale)``, ``loguniform(a, b)`` ->
  ``Real(a, b, log=True)``; any other distribution with a finite support -> ``Real`` (or
  ``Integer`` for discrete ones) over that support. Unbounded distributions (``norm``,
  ``expon``) are refused: a GA searches a box, not a density.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, Union

import numpy as np

from ..errors import ConfigError, SpaceError
from ..space import Categorical, Gene, Integer, Real, Space

__all__ = ["decode_params", "to_space"]

_LOG_NAMES = {"loguniform", "reciprocal"}


class FrozenDistribution(Protocol):
    """A frozen ``scipy.stats`` distribution, as :func:`to_space` reads it."""

    def rvs(self, *args: Any, **kwargs: Any) -> object: ...

    def support(self) -> tuple[float, float]: ...

    def ppf(self, q: float) -> float: ...


#: What ``GASearchCV(param_space=...)`` and :func:`to_space` take: ``{name: spec}`` where a
#: spec is a gene, a list of values or a :class:`FrozenDistribution`, a list of genes, or a
#: Space. The values are typed ``object``, not the union of those: mypy infers a dict that
#: mixes them (``{"depth": Integer(...), "criterion": ["gini", "entropy"]}``) as
#: ``dict[str, object]``, which the union would refuse; :func:`to_space` checks each one.
ParamSpace = Union[Mapping[str, object], Sequence[Gene], Space]


def _from_distribution(name: str, dist: FrozenDistribution) -> Gene:
    from scipy import stats

    dname = getattr(getattr(dist, "dist", None), "name", type(dist).__name__)
    try:
        low, high = (float(v) for v in dist.support())
    except Exception as exc:
        raise ConfigError(
            f"param_space[{name!r}]: cannot read the support of the scipy.stats "
            f"distribution {dname!r} ({exc})"
        ) from None
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ConfigError(
            f"param_space[{name!r}]: scipy.stats.{dname} has an unbounded support "
            f"[{low}, {high}]; a genetic search needs bounds. Use e.g. "
            f"Real({name!r}, {dist.ppf(0.001):.6g}, {dist.ppf(0.999):.6g}) or a "
            f"bounded distribution (uniform, loguniform, randint)"
        )
    if isinstance(getattr(dist, "dist", None), stats.rv_discrete):
        if low == high:
            raise ConfigError(f"param_space[{name!r}]: randint support has one value {low:g}")
        return Integer(name, int(low), int(high))
    return Real(name, low, high, log=dname in _LOG_NAMES)


def _from_list(name: str, values: Sequence[object] | np.ndarray) -> Categorical:
    values = list(values)
    if not values:
        raise ConfigError(f"param_space[{name!r}]: the list of values is empty")
    # Positions, not values: values may be unhashable (dicts, lists, estimators) or repeat
    # under == (1 and True); decode_params maps positions back to the user's objects.
    return Categorical(name, tuple(range(len(values))))


def to_space(param_space: ParamSpace) -> tuple[Space, dict[str, list[object]]]:
    """``(space, lookup)`` for ``param_space``; ``lookup[name]`` holds the values of list genes.

    Raises
    ------
    ConfigError
        Naming the parameter whose specification is not usable.

    Examples
    --------
    >>> from scipy.stats import loguniform, randint
    >>> space, lookup = to_space({"C": loguniform(1e-3, 1e2), "degree": randint(2, 5),
    ...                           "kernel": ["rbf", "poly"]})
    >>> [g.to_dict()["type"] for g in space]
    ['real', 'integer', 'categorical']
    >>> space["C"].log, space["degree"].high, lookup["kernel"]
    (True, 4, ['rbf', 'poly'])
    """
    if isinstance(param_space, Space):
        return param_space, {}
    if not isinstance(param_space, Mapping):
        if (
            isinstance(param_space, Sequence)
            and param_space
            and all(isinstance(g, Gene) for g in param_space)
        ):
            return Space(list(param_space)), {}
        raise ConfigError(
            "param_space must be a dict {parameter name: gene, list of values or "
            f"scipy.stats distribution}}, a list of genes or a Space, got "
            f"{type(param_space).__name__}"
        )
    if not param_space:
        raise ConfigError("param_space is empty: give at least one parameter to search")
    genes: list[Gene] = []
    lookup: dict[str, list[object]] = {}
    for name, spec in param_space.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"param_space keys must be parameter names, got {name!r}")
        try:
            if isinstance(spec, Gene):
                # every concrete Gene (Real, Integer, ...) is a dataclass; the base is not
                gene = (
                    spec if spec.name == name else dataclasses.replace(spec, name=name)  # type: ignore[type-var]
                )
            elif hasattr(spec, "rvs") and hasattr(spec, "support"):
                gene = _from_distribution(name, spec)  # type: ignore[arg-type]  # duck-typed
            elif isinstance(spec, (list, tuple, np.ndarray)):
                gene = _from_list(name, spec)
                lookup[name] = list(spec)
            else:
                raise ConfigError(
                    f"param_space[{name!r}] must be a genepool gene (Real, Integer, "
                    f"Categorical, Bool), a list of values or a scipy.stats distribution, "
                    f"got {spec!r}"
                )
        except SpaceError as exc:
            raise ConfigError(f"param_space[{name!r}]: {exc}") from None
        genes.append(gene)
    return Space(genes), lookup


def decode_params(
    space: Space, lookup: Mapping[str, list[object]], x: np.ndarray
) -> dict[str, Any]:
    """The estimator parameters of one encoded row ``x`` of shape ``(d,)``."""
    params = space.decode_row(x)
    for name, values in lookup.items():
        params[name] = values[int(params[name])]
    return params
