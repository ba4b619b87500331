"""The one place numba options are set (cache, fastmath, parallel), as stumpy does."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import numba

__all__ = ["compile_notice", "njit", "njit_inline", "njit_parallel"]

#: Compiled kernels are cached on disk next to the package (``__pycache__``), so the JIT cost is
#: paid once per machine. fastmath stays off: kernels must be bit-reproducible. Division follows
#: numpy (inf/nan, no ZeroDivisionError check in hot loops); kernels guard their divisions.
OPTIONS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}

if TYPE_CHECKING:
    _F = TypeVar("_F", bound=Callable[..., Any])

    # numba's own stubs type a decorated function as a ``Dispatcher`` that mypy cannot call
    # with the kernel's arguments; to callers a kernel is the Python function it compiles.
    def njit(func: _F, /) -> _F: ...

    def njit_parallel(func: _F, /) -> _F: ...

    def njit_inline(func: _F, /) -> _F: ...

else:
    njit = functools.partial(numba.njit, **OPTIONS)
    #: Inlined into its callers by numba itself (``inline="always"``), not left to LLVM: a
    #: call that passes many arrays costs ~100 cycles in numba's calling convention (each
    #: array is a struct of 7+ words), measured on the lanes kernel's entry and exit.
    njit_inline = functools.partial(numba.njit, inline="always", **OPTIONS)
    njit_parallel = functools.partial(numba.njit, parallel=True, **OPTIONS)


#: Modules whose kernels the compile notice watches (numba's own helpers compile too).
OWN_MODULES: tuple[str, ...] = ("genepool.",)
COMPILE_NOTICE = (
    "compiling genepool's numba kernels (first run only, usually 10-60 s; "
    "later runs load them from the cache)..."
)


@contextlib.contextmanager
def compile_notice(say: Callable[[str], None]) -> Iterator[None]:
    """Call ``say(COMPILE_NOTICE)`` when a genepool kernel starts compiling, once at most.

    numba signals ``numba:compile`` only for a real compilation, not for a kernel loaded from
    its on-disk cache, and in the thread that then waits for it: the notice comes just before
    the wait, and never on a run whose kernels are all cached (no guess from file names or
    timings). Kernels compiled in worker processes are not seen.
    """
    try:
        from numba.core import event
    except ImportError:  # pragma: no cover - a numba without the event API: no notice
        yield
        return

    class Listener(event.Listener):
        said = False

        def on_start(self, ev: Any) -> None:
            if self.said:
                return
            data = ev.data if isinstance(ev.data, dict) else {}
            func = getattr(data.get("dispatcher"), "py_func", None)
            module = str(getattr(func, "__module__", "") or "")
            if module.startswith(OWN_MODULES):
                self.said = True
                say(COMPILE_NOTICE)

        def on_end(self, ev: Any) -> None:
            pass

    with event.install_listener("numba:compile", Listener()):
        yield
