"""The public API is typed without ``Any`` where a precise type exists.

The walk is static (the source's syntax trees, not imported objects): the package's modules use
``from __future__ import annotations``, so annotations are strings anyway, and importing
``genepool.ml`` or ``genepool.backtest`` would pull in scikit-learn and pandas. It starts at
``genepool/__init__.py`` and at every subpackage's ``__all__``, follows each public name to the
module that defines it, and reads the parameters and return of every public function, of every
public method of a public class (``__init__`` and ``__call__`` included) and the fields of public
dataclasses (the parameters of their generated ``__init__``). An annotation counts as ``Any`` when
``Any`` appears anywhere in it (``dict[str, Any]`` too), or in a genepool type alias it names
(``OperatorSpec``, ``GeneValues``). ``*args: Any`` and ``**kwargs: Any`` are not counted: they
forward arguments to something else.

A new ``Any`` in the public API fails this test unless ALLOWED names it with the reason ``Any``
is right there; an entry that no longer matches fails too, so the list stays the true list.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "genepool"

_JSON = "JSON-compatible values (written to / read from JSON or TOML)"
_DECODED = (
    "decoded values: a categorical's choices are any user objects, and callers use the "
    "values as what they know them to be"
)

# "public.name:parameter", "public.name:return" or "public.Dataclass:field" -> why Any is right.
ALLOWED: dict[str, str] = {
    # ---- Any is the right type --------------------------------------------------------------
    "genepool.Gene.to_dict:return": _JSON,
    "genepool.Real.to_dict:return": _JSON,
    "genepool.Integer.to_dict:return": _JSON,
    "genepool.Categorical.to_dict:return": _JSON,
    "genepool.Bool.to_dict:return": _JSON,
    "genepool.Space.to_dict:return": _JSON,
    "genepool.Space.from_dict:spec": _JSON,
    "genepool.Space.decode_row:return": _DECODED,
    "genepool.Optimizer.state_dict:return": "(arrays, meta): meta is " + _JSON,
    "genepool.NSGA2.state_dict:return": "(arrays, meta): meta is " + _JSON,
    "genepool.algorithms.ParetoArchive.state_dict:return": "(arrays, meta): meta is " + _JSON,
    "genepool.algorithms.ParetoArchive.load_state_dict:meta": "state_dict's meta: " + _JSON,
    "genepool.algorithms.ParetoArchive.stats:return": "counts and a reason string: " + _JSON,
    "genepool.NSGA2State:archive": "the archive's checkpoint meta: " + _JSON,
    "genepool.MemoryReport:archive": "ParetoArchive.stats(): counts and a reason string, " + _JSON,
    "genepool.errors.FitnessError.__init__:params": "decoded parameters of the failing "
    "individual (a categorical's choices are any user objects)",
    "genepool.ml.GASearchCV.__init__:optimizer_options": "keyword arguments of GA or PSO, "
    "each with its own type",
    "genepool.ml.NeuralNetProblem.shared_config:return": "overrides Problem.shared_config; "
    + _JSON,
    "genepool.ml.NeuralNetProblem.from_shared:config": "overrides Problem.from_shared; " + _JSON,
    "genepool.Problem.shared_config:return": _JSON,
    "genepool.backtest.MarketStore.__init__:manifest": "the parsed manifest.json: " + _JSON,
    "genepool.backtest.MarketStore.info:return": "a summary for --json: " + _JSON,
    "genepool.Problem.from_shared:config": _JSON,
    "genepool.FunctionProblem.shared_config:return": "overrides Problem.shared_config; " + _JSON,
    "genepool.FunctionProblem.from_shared:config": "overrides Problem.from_shared; " + _JSON,
    "genepool.ElementwiseProblem.shared_config:return": "overrides Problem.shared_config; "
    + _JSON,
    "genepool.ElementwiseProblem.from_shared:config": "overrides Problem.from_shared; " + _JSON,
    "genepool.problems.MultiObjectiveProblem.shared_config:return": "overrides "
    "Problem.shared_config; " + _JSON,
    "genepool.problems.MultiObjectiveProblem.from_shared:config": "overrides "
    "Problem.from_shared; " + _JSON,
    "genepool.ElementwiseProblem.__init__:fn": "ElementwiseFunction takes " + _DECODED,
    "genepool.ElementwiseProblem.__call__:params": _DECODED,
    "genepool.elementwise:fn": "ElementwiseFunction takes " + _DECODED,
    "genepool.elementwise:return": "a decorator of an ElementwiseFunction, which takes "
    + _DECODED,
    "genepool.Result:best_params": _DECODED,
    "genepool.backtest.StrategyProblem.shared_config:return": "overrides "
    "Problem.shared_config; " + _JSON,
    "genepool.backtest.StrategyProblem.from_shared:config": "overrides Problem.from_shared; "
    + _JSON,
    "genepool.backtest.StrategyProblem.signals:params": "one strategy's parameters as "
    "Space.decode_row gives them: " + _DECODED,
    "genepool.run.Direction.to_dict:return": _JSON,
    "genepool.run.Direction.from_dict:record": _JSON,
    "genepool.evolve.EvolveConfig.to_dict:return": _JSON,
    "genepool.evolve.load_toml:return": _JSON,
    "genepool.evolve.RunOutcome.best:return": "best.json as a plain dict (RunOutcome.record "
    "is the typed form); " + _JSON,
    "genepool.evolve.HallOfFame.state_dict:return": "(arrays, meta): meta is " + _JSON,
    "genepool.evolve.HallOfFame.load_state_dict:meta": "what state_dict wrote; " + _JSON,
    "genepool.evolve.TrialSketch.state_dict:return": "(arrays, meta): meta is " + _JSON,
    "genepool.evolve.TrialSketch.load_state_dict:meta": "what state_dict wrote; " + _JSON,
    "genepool.report.ReportData:config": "the run's config as written to config.json; " + _JSON,
    "genepool.report.ReportData:best": "the run's best.json; " + _JSON,
    "genepool.report.ReportData:verdict": "statistics with open-ended extra keys; " + _JSON,
    "genepool.report.ReportData:facts": "facts read from the run's JSON files; " + _JSON,
}


# -- a module's syntax tree, indexed --------------------------------------------------------------
def _module_file(dotted: str) -> Path | None:
    """The source file of module ``genepool.x.y`` (a module file or a package's __init__)."""
    base = PACKAGE.joinpath(*dotted.split(".")[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


class _Module:
    """What the walk needs of one module: its __all__, defs, type aliases and imports."""

    def __init__(self, dotted: str, tree: ast.Module, is_package: bool) -> None:
        self.all: list[str] | None = None
        self.defs: dict[str, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] = {}
        self.aliases: dict[str, ast.expr] = {}
        self.imports: dict[str, tuple[str, str]] = {}  # local name -> (module, name there)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.defs[node.name] = node
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    if target.id == "__all__":
                        self.all = [ast.literal_eval(e) for e in node.value.elts]
                    else:
                        self.aliases[target.id] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                if node.value is not None:
                    self.aliases[node.target.id] = node.value
        package = dotted if is_package else dotted.rpartition(".")[0]
        for node in ast.walk(tree):  # TYPE_CHECKING and lazy __getattr__ imports included
            if isinstance(node, ast.ImportFrom):
                source = node.module or ""
                if node.level:  # relative: from the package, up level - 1 packages
                    base = package
                    for _ in range(node.level - 1):
                        base = base.rpartition(".")[0]
                    source = f"{base}.{node.module}" if node.module else base
                for a in node.names:
                    self.imports.setdefault(a.asname or a.name, (source, a.name))


@functools.cache
def _module(dotted: str) -> _Module | None:
    path = _module_file(dotted)
    if path is None:
        return None
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return _Module(dotted, tree, path.name == "__init__.py")


Found = tuple[str, "ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef"]


@functools.cache
def _lookup(module: str, name: str, depth: int = 0) -> Found | str | None:
    """Where ``module.name`` is defined: (module, node) for a def or class, a dotted module
    name for a submodule, None for anything else (a constant, a third-party name)."""
    mod = _module(module)
    if mod is None or depth > 8:
        return None
    if name in mod.defs:
        return module, mod.defs[name]
    if name in mod.imports:
        source, original = mod.imports[name]
        if _module_file(f"{source}.{original}") is not None:
            return f"{source}.{original}"
        if source.startswith("genepool"):
            return _lookup(source, original, depth + 1)
        return None
    if _module_file(f"{module}.{name}") is not None:
        return f"{module}.{name}"
    return None


@functools.cache
def _alias(module: str, name: str, depth: int = 0) -> tuple[str, ast.expr] | None:
    """The value of the genepool type alias ``name`` as ``module`` sees it, else None."""
    mod = _module(module)
    if mod is None or depth > 8:
        return None
    if name in mod.aliases:
        return module, mod.aliases[name]
    if name in mod.imports:
        source, original = mod.imports[name]
        if source.startswith("genepool"):
            return _alias(source, original, depth + 1)
    return None


# -- Any in annotations ---------------------------------------------------------------------------
def _mentions_any(module: str, annotation: ast.expr | None, depth: int = 0) -> bool:
    """Whether ``Any`` appears in ``annotation`` or in a genepool type alias it names."""
    if annotation is None or depth > 8:
        return False
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        annotation = ast.parse(annotation.value, mode="eval").body
    for n in ast.walk(annotation):
        if (isinstance(n, ast.Name) and n.id == "Any") or (
            isinstance(n, ast.Attribute) and n.attr == "Any"
        ):
            return True
        if isinstance(n, ast.Name):
            found = _alias(module, n.id)
            if found is not None and _mentions_any(found[0], found[1], depth + 1):
                return True
    return False


def _function_anys(
    module: str, public: str, fn: ast.FunctionDef | ast.AsyncFunctionDef
) -> Iterator[str]:
    a = fn.args
    for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs]:
        if _mentions_any(module, arg.annotation):
            yield f"{public}:{arg.arg}"
    if _mentions_any(module, fn.returns):
        yield f"{public}:return"


def _is_dataclass(cls: ast.ClassDef) -> bool:
    for dec in cls.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if "dataclass" in ast.unparse(target):
            return True
    return False


def _class_anys(module: str, public: str, cls: ast.ClassDef) -> Iterator[str]:
    dataclass = _is_dataclass(cls)
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if not node.name.startswith("_") or node.name in ("__init__", "__call__"):
                yield from _function_anys(module, f"{public}.{node.name}", node)
        elif dataclass and isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            field = node.target.id
            if field.startswith("_") or "ClassVar" in ast.unparse(node.annotation):
                continue
            if _mentions_any(module, node.annotation):
                yield f"{public}:{field}"


def _packages() -> list[str]:
    subpackages = sorted(
        "genepool." + ".".join(p.parent.relative_to(PACKAGE).parts)
        for p in PACKAGE.rglob("__init__.py")
        if p.parent != PACKAGE and not any(part.startswith("_") for part in p.parent.parts)
    )
    return ["genepool", *subpackages]


@functools.cache
def _public_anys() -> dict[str, str]:
    """Every ``Any`` in the public API -> the module and line that writes it."""
    found: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    queue = [(pkg, pkg) for pkg in _packages()]  # (public prefix, module)
    visited: set[str] = set()
    while queue:
        prefix, module = queue.pop(0)
        mod = _module(module)
        if module in visited or mod is None:
            continue
        visited.add(module)
        names = mod.all if mod.all is not None else [n for n in mod.defs if n[0] != "_"]
        for name in names:
            where = _lookup(module, name)
            if isinstance(where, str):  # a public submodule: walk its public names too
                queue.append((f"{prefix}.{name}", where))
                continue
            if where is None:
                continue
            home, node = where
            if (home, node.name) in seen:  # re-exported: reported under its first public name
                continue
            seen.add((home, node.name))
            public = f"{prefix}.{name}"
            if isinstance(node, ast.ClassDef):
                entries = list(_class_anys(home, public, node))
            else:
                entries = list(_function_anys(home, public, node))
            for entry in entries:
                found[entry] = f"{home}:{node.lineno}"
    return found


# -- tests ----------------------------------------------------------------------------------------
def test_no_any_in_the_public_api_outside_the_allow_list() -> None:
    found = _public_anys()
    new = sorted(set(found) - set(ALLOWED))
    assert not new, (
        "Any in the public API: give a precise type, or add the entry to ALLOWED in "
        "tests/test_public_types.py with the reason Any is right there:\n"
        + "\n".join(f"  {entry}  ({found[entry]})" for entry in new)
    )


def test_every_allow_list_entry_still_matches() -> None:
    stale = sorted(set(ALLOWED) - set(_public_anys()))
    assert not stale, (
        "these ALLOWED entries no longer name an Any in the public API; remove them:\n"
        + "\n".join(f"  {entry}" for entry in stale)
    )


def test_the_walk_reaches_the_public_api() -> None:
    # the walk can go blind silently (a moved module, a new re-export style): it must see the
    # main entry points, and flag an Any in an annotation and in an alias it names
    top = _module("genepool")
    assert top is not None and {"minimize", "Space", "GA"} <= set(top.all or [])
    for module, name in [
        ("genepool", "minimize"),
        ("genepool", "GA"),
        ("genepool.ml", "GASearchCV"),
    ]:
        assert isinstance(_lookup(module, name), tuple), (module, name)
    assert _lookup("genepool", "operators") == "genepool.operators"
    assert _mentions_any("genepool", ast.parse("dict[str, Any]", mode="eval").body)
    assert not _mentions_any("genepool", ast.parse("dict[str, object]", mode="eval").body)
    assert _alias("genepool.algorithms.ga", "OperatorSpec") is not None
    assert _alias("genepool.backtest.constraints", "GeneValues") is not None  # imported alias
    assert any(entry.startswith("genepool.Space.") for entry in _public_anys())
