"""Seeded random streams. Randomness is drawn only in optimizers, from these generators."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .errors import ConfigError

__all__ = ["make_rng", "rng_from_state", "rng_state"]


def make_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Return a PCG64 generator for ``seed`` (an int, None for OS entropy, or a Generator).

    A ``Generator`` is used as is (shared, not copied), so callers can thread one stream through.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ConfigError(f"seed must be an int, None or a numpy Generator, got {seed!r}")
    if seed is not None and seed < 0:
        raise ConfigError(f"seed must be >= 0, got {seed!r}")
    return np.random.Generator(np.random.PCG64(seed))


def rng_state(rng: np.random.Generator) -> dict[str, str | int | dict[str, int]]:
    """JSON-serialisable state of ``rng`` (a PCG64 generator)."""
    state = rng.bit_generator.state
    if state.get("bit_generator") != "PCG64":
        raise ConfigError(
            f"only PCG64 generators can be checkpointed, got {state.get('bit_generator')!r}"
        )
    return {
        "bit_generator": "PCG64",
        "state": {k: int(v) for k, v in state["state"].items()},
        "has_uint32": int(state["has_uint32"]),
        "uinteger": int(state["uinteger"]),
    }


def rng_from_state(state: Mapping[str, object]) -> np.random.Generator:
    """Rebuild a generator from :func:`rng_state` output; continues the exact same stream."""
    bitgen = np.random.PCG64()
    bitgen.state = state  # type: ignore[assignment]  # numpy types it as a private TypedDict
    return np.random.Generator(bitgen)
