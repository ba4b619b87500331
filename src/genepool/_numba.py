"""The one place numba options are set (cache, fastmath, parallel), as stumpy does."""

from __future__ import annotations

import functools

import numba

__all__ = ["njit", "njit_parallel"]

#: Compiled kernels are cached on disk next to the package (``__pycache__``), so the JIT cost is
#: paid once per machine. fastmath stays off: kernels must be bit-reproducible. Division follows
#: numpy (inf/nan, no ZeroDivisionError check in hot loops); kernels guard their divisions.
OPTIONS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}

njit = functools.partial(numba.njit, **OPTIONS)
njit_parallel = functools.partial(numba.njit, parallel=True, **OPTIONS)
