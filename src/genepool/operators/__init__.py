"""Evolutionary operators: pure, vectorized functions on arrays.

Conventions: populations are ``(n, d)`` float arrays in the encoded space; fitness is
*minimized* (the run loop negates it for ``maximize``) and NaN counts as the worst value;
randomness comes only from the ``numpy.random.Generator`` passed in.
"""

from . import crossover, mutation, repair, replacement, selection

__all__ = ["crossover", "mutation", "repair", "replacement", "selection"]
