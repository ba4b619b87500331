"""Slow, obviously correct reference twins of the operators in :mod:`genepool.operators`.

Every function is written from the textbook definition with plain Python loops (one loop per
individual and per gene), never from the vectorized code. Random operators take their random
numbers as arguments (masks, cut points, uniforms) so a test can feed them the very draws the
operator made from an identically seeded generator.

Conventions shared with the operators: fitness is minimized and NaN counts as the worst value
(it ranks like ``+inf``); "ties by index" means the lower index comes first.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np

# -- fitness helpers -------------------------------------------------------------------------


def key(value: float) -> float:
    """Sort key of one fitness value: NaN is the worst, like ``+inf``."""
    value = float(value)
    return math.inf if math.isnan(value) else value


def best_first(fitness) -> list[int]:
    """Indices sorted best first, ties by index, by repeatedly taking the best remaining one."""
    remaining = list(range(len(fitness)))
    order = []
    while remaining:
        best = remaining[0]
        for i in remaining[1:]:
            if key(fitness[i]) < key(fitness[best]):  # strict: the lower index wins ties
                best = i
        order.append(best)
        remaining.remove(best)
    return order


# -- selection -------------------------------------------------------------------------------


def tournament_rank_probability(r: int, n: int, k: int) -> float:
    """Closed form: the rank-``r`` individual (0 = best, distinct fitness) wins a k-tournament."""
    return ((n - r) ** k - (n - r - 1) ** k) / n**k


def tournament_probabilities(fitness, k: int) -> list[float]:
    """Win probability of each individual, by enumerating all ``n^k`` ordered tournaments.

    The winner of a tournament is its first contestant with the best fitness (so ties between
    different individuals are broken by draw order, fairly on average).
    """
    n = len(fitness)
    wins = [0] * n
    for contestants in itertools.product(range(n), repeat=k):
        winner = contestants[0]
        for c in contestants[1:]:
            if key(fitness[c]) < key(fitness[winner]):
                winner = c
        wins[winner] += 1
    return [w / n**k for w in wins]


def tournament(fitness, contestants) -> list[int]:
    """Winners given the drawn contestants, one row of ``k`` indices per pick."""
    winners = []
    for row in contestants:
        winner = int(row[0])
        for c in row[1:]:
            if key(fitness[c]) < key(fitness[winner]):
                winner = int(c)
        winners.append(winner)
    return winners


def rank_probabilities(fitness, pressure: float) -> list[float]:
    """Baker's linear ranking: ``p = (2 - s + 2 (s - 1) rank / (n - 1)) / n``, rank 0 = worst.

    The rank of an individual is the number of individuals it beats: those with a worse value,
    plus, among equal values, those with a higher index (the lower index ranks higher, as in
    truncation and replacement).
    """
    n = len(fitness)
    if n == 1:
        return [1.0]
    probs = []
    for i in range(n):
        rank = 0
        for j in range(n):
            if key(fitness[j]) > key(fitness[i]) or (key(fitness[j]) == key(fitness[i]) and j > i):
                rank += 1
        probs.append((2.0 - pressure + 2.0 * (pressure - 1.0) * rank / (n - 1)) / n)
    return probs


def roulette_weights(fitness) -> list[float]:
    """Window weights ``worst_finite - f``; inf/NaN weigh 0; all finite equal when all are 0."""
    finite = [math.isfinite(float(v)) for v in fitness]
    if not any(finite):
        return [1.0] * len(fitness)
    worst = max(float(v) for v, ok in zip(fitness, finite) if ok)
    weights = [worst - float(v) if ok else 0.0 for v, ok in zip(fitness, finite)]
    if sum(weights) <= 0:
        return [1.0 if ok else 0.0 for ok in finite]
    return weights


def roulette_probabilities(fitness) -> list[float]:
    weights = roulette_weights(fitness)
    total = sum(weights)
    return [w / total for w in weights]


def sus_expected_counts(fitness, n_select: int) -> list[float]:
    return [n_select * p for p in roulette_probabilities(fitness)]


def sus(fitness, n_select: int, offset: float) -> list[int]:
    """Baker's SUS: pointers ``offset, offset + 1, ...`` walk the expected-count wheel.

    Returns the picks in pointer order (the operator shuffles them afterwards).
    """
    counts = sus_expected_counts(fitness, n_select)
    picks = []
    i, edge = 0, counts[0]  # individual i owns the wheel segment ending at ``edge``
    for j in range(n_select):
        pointer = offset + j
        while pointer >= edge and i < len(counts) - 1:
            i += 1
            edge += counts[i]
        while counts[i] == 0:  # rounding left the pointer past the end: last one with weight
            i -= 1
        picks.append(i)
    return picks


def truncation_pool(fitness, fraction: float) -> list[int]:
    """The best ``ceil(fraction * n)`` individuals, best first, ties by index."""
    n_top = max(1, math.ceil(fraction * len(fitness)))
    return best_first(fitness)[:n_top]


# -- crossover -------------------------------------------------------------------------------


def _pairs(p1, p2):
    return np.array(p1, dtype=np.float64), np.array(p2, dtype=np.float64)


def uniform_crossover(p1, p2, swap_mask):
    """Child 1 takes parent 2's gene where the mask is set, child 2 the other way round."""
    c1, c2 = _pairs(p1, p2)
    m, d = c1.shape
    for i in range(m):
        for j in range(d):
            if swap_mask[i][j]:
                c1[i, j], c2[i, j] = p2[i][j], p1[i][j]
    return c1, c2


def one_point(p1, p2, cuts):
    """Genes from position ``cuts[i]`` to the end are exchanged in pair ``i``."""
    c1, c2 = _pairs(p1, p2)
    m, d = c1.shape
    for i in range(m):
        for j in range(int(cuts[i]), d):
            c1[i, j], c2[i, j] = p2[i][j], p1[i][j]
    return c1, c2


def two_point(p1, p2, cut_a, cut_b):
    """Genes between the two (distinct, unordered) cut positions are exchanged."""
    c1, c2 = _pairs(p1, p2)
    for i in range(c1.shape[0]):
        lo, hi = sorted((int(cut_a[i]), int(cut_b[i])))
        for j in range(lo, hi):
            c1[i, j], c2[i, j] = p2[i][j], p1[i][j]
    return c1, c2


def blend(p1, p2, alpha: float, u1, u2):
    """BLX-alpha: child gene ``= low + u (high - low)`` on ``[min - alpha I, max + alpha I]``."""
    c1, c2 = _pairs(p1, p2)
    m, d = c1.shape
    for i in range(m):
        for j in range(d):
            a, b = float(p1[i][j]), float(p2[i][j])
            interval = abs(a - b)
            low = min(a, b) - alpha * interval
            high = max(a, b) + alpha * interval
            c1[i, j] = low + u1[i][j] * (high - low)
            c2[i, j] = low + u2[i][j] * (high - low)
    return c1, c2


def arithmetic(p1, p2, weights):
    """Whole arithmetic crossover with weight ``weights[i]`` for pair ``i``."""
    c1, c2 = _pairs(p1, p2)
    m, d = c1.shape
    for i in range(m):
        a = float(weights[i])
        for j in range(d):
            c1[i, j] = a * p1[i][j] + (1.0 - a) * p2[i][j]
            c2[i, j] = (1.0 - a) * p1[i][j] + a * p2[i][j]
    return c1, c2


def sbx(p1, p2, lower, upper, eta: float, gene_prob: float, u_do, u_beta, u_swap):
    """Bounded SBX, gene by gene, as ``realcross`` in Deb's NSGA-II C code (EPS = 1e-14).

    ``u_do`` decides whether the gene is recombined, ``u_beta`` is the one uniform shared by both
    spread factors, ``u_swap`` decides whether the two children are exchanged.
    """
    c1, c2 = _pairs(p1, p2)
    m, d = c1.shape
    for i in range(m):
        for j in range(d):
            x1, x2 = float(p1[i][j]), float(p2[i][j])
            if not (u_do[i][j] < gene_prob and abs(x1 - x2) > 1e-14):
                continue  # the children inherit the parents' genes
            y1, y2 = min(x1, x2), max(x1, x2)
            yl, yu = float(lower[j]), float(upper[j])
            rand = float(u_beta[i][j])

            beta = 1.0 + 2.0 * (y1 - yl) / (y2 - y1)
            alpha = 2.0 - beta ** -(eta + 1.0)
            if rand <= 1.0 / alpha:
                betaq = (rand * alpha) ** (1.0 / (eta + 1.0))
            else:
                betaq = (1.0 / (2.0 - rand * alpha)) ** (1.0 / (eta + 1.0))
            child1 = 0.5 * ((y1 + y2) - betaq * (y2 - y1))

            beta = 1.0 + 2.0 * (yu - y2) / (y2 - y1)
            alpha = 2.0 - beta ** -(eta + 1.0)
            if rand <= 1.0 / alpha:
                betaq = (rand * alpha) ** (1.0 / (eta + 1.0))
            else:
                betaq = (1.0 / (2.0 - rand * alpha)) ** (1.0 / (eta + 1.0))
            child2 = 0.5 * ((y1 + y2) + betaq * (y2 - y1))

            child1 = min(max(child1, yl), yu)
            child2 = min(max(child2, yl), yu)
            if u_swap[i][j] < 0.5:
                child1, child2 = child2, child1
            c1[i, j], c2[i, j] = child1, child2
    return c1, c2


# -- mutation --------------------------------------------------------------------------------
# ``mask`` marks the mutated genes; ``draws`` are consumed one per mutated gene in row-major
# order (row by row, left to right), which is the order the operators document.


def _run(X, mask, update):
    Y = np.array(X, dtype=np.float64)
    k = 0
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            if mask[i][j]:
                Y[i, j] = update(float(Y[i, j]), j, k)
                k += 1
    return Y


def polynomial(X, lower, upper, eta: float, mask, draws):
    """Bounded polynomial mutation, as ``realmutation`` in Deb's NSGA-II C code."""

    def update(y, j, k):
        yl, yu = float(lower[j]), float(upper[j])
        delta1 = (y - yl) / (yu - yl)
        delta2 = (yu - y) / (yu - yl)
        rnd = float(draws[k])
        mut_pow = 1.0 / (eta + 1.0)
        if rnd <= 0.5:
            xy = 1.0 - delta1
            val = 2.0 * rnd + (1.0 - 2.0 * rnd) * xy ** (eta + 1.0)
            deltaq = val**mut_pow - 1.0
        else:
            xy = 1.0 - delta2
            val = 2.0 * (1.0 - rnd) + 2.0 * (rnd - 0.5) * xy ** (eta + 1.0)
            deltaq = 1.0 - val**mut_pow
        y = y + deltaq * (yu - yl)
        return min(max(y, yl), yu)

    return _run(X, mask, update)


def gaussian(X, lower, upper, sigma, mask, normals):
    """Add ``sigma_j (upper_j - lower_j) z`` to each mutated gene (``z`` standard normal)."""
    sig = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (np.shape(X)[1],))
    return _run(X, mask, lambda y, j, k: y + float(normals[k]) * sig[j] * (upper[j] - lower[j]))


def uniform_reset(X, lower, upper, mask, draws):
    """Each mutated gene becomes ``lower + u (upper - lower)``."""
    return _run(X, mask, lambda y, j, k: lower[j] + float(draws[k]) * (upper[j] - lower[j]))


def integer_step(X, step: int, mask, draws):
    """Each mutated gene moves down by ``step`` when its draw is below 1/2, else up."""
    return _run(X, mask, lambda y, j, k: y - step if draws[k] < 0.5 else y + step)


def decode_index(x: float, n_choices: int) -> int:
    """Nearest category index (halves up), clipped to ``[0, n_choices - 1]``."""
    return min(max(math.floor(x + 0.5), 0), n_choices - 1)


# -- repair ----------------------------------------------------------------------------------


def clip(X, lower, upper):
    Y = np.array(X, dtype=np.float64)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            if Y[i, j] < lower[j]:
                Y[i, j] = lower[j]
            elif Y[i, j] > upper[j]:
                Y[i, j] = upper[j]
    return Y


def reflect_value(x: float, lo: float, hi: float) -> float:
    """Mirror ``x`` at the bound it crossed until it is inside, in exact rational arithmetic.

    The exact result is rounded to the nearest float once at the end, so it lies in
    ``[lo, hi]``. NaN stays NaN. The loop takes about ``|x - lo| / (hi - lo)`` steps.
    """
    if math.isnan(x):
        return x
    v, a, b = Fraction(x), Fraction(lo), Fraction(hi)
    while v < a or v > b:
        v = 2 * b - v if v > b else 2 * a - v
    return float(v)


def reflect(X, lower, upper):
    Y = np.array(X, dtype=np.float64)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = reflect_value(float(Y[i, j]), float(lower[j]), float(upper[j]))
    return Y


def reflect_float(X, lower, upper):
    """The same mirror loop in plain floats (exact only when every step is exact)."""
    Y = np.array(X, dtype=np.float64)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            x, lo, hi = Y[i, j], lower[j], upper[j]
            while x < lo or x > hi:
                x = 2 * hi - x if x > hi else 2 * lo - x
            Y[i, j] = x
    return Y


def resample(X, lower, upper, draws):
    """Each out-of-bound gene (row-major order) becomes ``lower + u (upper - lower)``."""
    n, d = np.shape(X)
    outside = [[X[i][j] < lower[j] or X[i][j] > upper[j] for j in range(d)] for i in range(n)]
    return uniform_reset(X, lower, upper, outside, draws)


# -- replacement -----------------------------------------------------------------------------


def mu_plus_lambda(parents, parent_fitness, offspring, offspring_fitness, mu=None):
    """The best ``mu`` of the union (parents first, then offspring), best first, stable."""
    mu = len(parents) if mu is None else mu
    pool_x = [list(x) for x in parents] + [list(x) for x in offspring]
    pool_f = [float(v) for v in parent_fitness] + [float(v) for v in offspring_fitness]
    chosen = best_first(pool_f)[:mu]
    return np.array([pool_x[i] for i in chosen]), np.array([pool_f[i] for i in chosen])


def mu_comma_lambda(offspring, offspring_fitness, mu: int):
    chosen = best_first(offspring_fitness)[:mu]
    return (
        np.array([list(offspring[i]) for i in chosen]),
        np.array([float(offspring_fitness[i]) for i in chosen]),
    )


def generational(parents, parent_fitness, offspring, offspring_fitness, elitism: int = 1):
    """The best ``elitism`` parents plus the best ``n - elitism`` offspring, sorted stably."""
    n = len(parents)
    elite = best_first(parent_fitness)[:elitism]
    kept = best_first(offspring_fitness)[: n - elitism]
    pool_x = [list(parents[i]) for i in elite] + [list(offspring[i]) for i in kept]
    pool_f = [float(parent_fitness[i]) for i in elite] + [
        float(offspring_fitness[i]) for i in kept
    ]
    order = best_first(pool_f)
    return np.array([pool_x[i] for i in order]), np.array([pool_f[i] for i in order])


# ===========================================================================================
# Fitness cache and byte-size twins (genepool.evaluation._nb, genepool.evaluation.cache,
# genepool.memory._size). Written from the documented rules, never from the kernels.
# ===========================================================================================

_U64 = (1 << 64) - 1


def float_bits(x: float) -> int:
    """The IEEE-754 bits of ``float(x)`` as an unsigned 64-bit integer."""
    import struct

    return struct.unpack("<Q", struct.pack("<d", float(x)))[0]


def cache_key(space, x_row, quantize=None) -> tuple[int, ...]:
    """Cache key of one encoded row: one unsigned 64-bit word per gene.

    Real genes: the bits of ``float(x)`` (``-0.0`` folded into ``0.0``); with ``quantize`` (a
    scalar or one value per gene) the grid cell ``floor((x - lower) / (q * (upper - lower)) +
    0.5)`` in two's complement. Integer, categorical and bool genes: the nearest index
    ``clip(floor(x + 0.5), lower + 0.5, upper - 0.5)`` in two's complement.
    """
    words = []
    for j, gene in enumerate(space.genes):
        x = float(x_row[j])
        lower, upper = (float(b) for b in gene.encoded_bounds)
        if type(gene).__name__ == "Real":
            if quantize is None:
                words.append(0 if x == 0.0 else float_bits(x))
            else:
                q = float(quantize) if np.ndim(quantize) == 0 else float(quantize[j])
                cell = math.floor((x - lower) / (q * (upper - lower)) + 0.5)
                words.append(cell & _U64)
        else:
            index = min(max(math.floor(x + 0.5), lower + 0.5), upper - 0.5)
            words.append(int(index) & _U64)
    return tuple(words)


def cache_keys(space, X, quantize=None) -> list[tuple[int, ...]]:
    return [cache_key(space, row, quantize) for row in X]


def group_keys(keys) -> tuple[list[int], list[int]]:
    """``(first, inverse)``: first row of each distinct key in order of appearance, and the
    group of every row."""
    group_of: dict = {}
    first, inverse = [], []
    for i, k in enumerate(keys):
        k = tuple(k)
        if k not in group_of:
            group_of[k] = len(first)
            first.append(i)
        inverse.append(group_of[k])
    return first, inverse


class LRUCache:
    """The documented rules of ``FitnessCache`` on an ``OrderedDict`` (least recent first).

    * ``lookup``: every hit becomes the most recently used entry, in query order.
    * ``put`` of ``k`` new keys: if ``k > capacity`` only the last ``capacity`` are kept; if
      ``size + k > capacity``, first evict ``max(overflow, ceil(evict_fraction * capacity))``
      least recently used entries (at most ``size``); then insert in order (most recent last).
    * ``add``: the distinct keys in order of appearance are looked up, the absent ones put with
      the value of their first row.
    """

    def __init__(self, capacity: int, evict_fraction: float = 1 / 16) -> None:
        self.capacity = capacity
        from collections import OrderedDict

        self.evict_fraction = evict_fraction
        self.entries: OrderedDict = OrderedDict()
        self.hits = self.misses = self.evictions = self.inserts = 0

    def lookup(self, keys) -> list:
        found = []
        for k in keys:
            if k in self.entries:
                self.hits += 1
                self.entries.move_to_end(k)
                found.append(self.entries[k])
            else:
                self.misses += 1
                found.append(None)
        return found

    def put(self, keys, values) -> None:
        keys, values = list(keys), list(values)
        if not keys or self.capacity == 0:
            return
        if len(keys) > self.capacity:
            keys, values = keys[-self.capacity :], values[-self.capacity :]
        overflow = len(self.entries) + len(keys) - self.capacity
        if overflow > 0:
            count = min(
                len(self.entries), max(overflow, math.ceil(self.evict_fraction * self.capacity))
            )
            for _ in range(count):
                self.entries.popitem(last=False)
            self.evictions += count
        for k, v in zip(keys, values):
            self.entries[k] = v
            self.inserts += 1

    def add(self, keys, values) -> None:
        first, _ = group_keys(keys)
        distinct = [keys[i] for i in first]
        found = self.lookup(distinct)
        new = [i for i, f in zip(first, found) if f is None]
        self.put([keys[i] for i in new], [values[i] for i in new])


def max_entries(max_bytes: int, d: int, m: int = 1) -> int:
    """Most entries whose arrays fit in ``max_bytes``: per entry a key (``d`` words), a hash,
    ``m`` values and a tick; plus a slot table of ``8 * S`` bytes, ``S`` the smallest power of
    two with ``S >= 2 * entries``."""
    row = 8 * d + 8 + 8 * m + 8

    def fits(c: int) -> bool:
        s = 1
        while s < 2 * c:
            s *= 2
        return c == 0 or c * row + 8 * s <= max_bytes

    # The bytes needed grow with the number of entries, so bisect on ``fits``.
    lo, hi = 0, max_bytes // row + 1  # fits(lo), not fits(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


_SIZE_UNITS = {"b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}
_SIZE_UNITS.update({u + "b": v for u, v in _SIZE_UNITS.items() if u != "b"})
_SIZE_UNITS.update({"kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4})


def size_bytes(number: str, unit: str) -> int:
    """Exact bytes of a decimal ``number`` (text) of ``unit``, fractions of a byte dropped."""
    return math.floor(Fraction(number) * _SIZE_UNITS[unit.lower()])


# == backtest indicators: naive twins of genepool.backtest.nb ====================================
# Written from the textbook definitions with plain loops over bars and windows, exact sums
# (math.fsum), and lists of floats; NaN marks bars where an indicator is not defined yet.

_NAN = float("nan")


def sma(a, window: int) -> list[float]:
    """Mean of the last ``window`` values, NaN before ``window`` values exist."""
    out = []
    for i in range(len(a)):
        if i + 1 < window:
            out.append(_NAN)
        else:
            out.append(math.fsum(a[i + 1 - window : i + 1]) / window)
    return out


def ema(a, window: int) -> list[float]:
    """EMA with alpha = 2 / (window + 1), seeded by the first value (leading NaNs skipped), NaN
    until ``window`` values have been seen."""
    alpha = 2.0 / (window + 1)
    out, value, seen = [], None, 0
    for x in a:
        if math.isnan(x) and value is None:
            out.append(_NAN)
            continue
        seen += 1
        value = x if value is None else alpha * x + (1 - alpha) * value
        out.append(value if seen >= window else _NAN)
    return out


def _rsi_from_averages(gain: float, loss: float) -> float:
    if loss == 0:
        return _NAN if gain == 0 else 100.0
    return 100.0 - 100.0 / (1.0 + gain / loss)


def _gains_losses(close):
    gains = [_NAN] + [max(close[i] - close[i - 1], 0.0) for i in range(1, len(close))]
    losses = [_NAN] + [max(close[i - 1] - close[i], 0.0) for i in range(1, len(close))]
    return gains, losses


def rsi_sma(close, window: int) -> list[float]:
    """RSI from the simple means of the last ``window`` gains and losses (first at ``window``)."""
    gains, losses = _gains_losses(close)
    out = []
    for i in range(len(close)):
        if i < window:
            out.append(_NAN)
            continue
        g = math.fsum(gains[i + 1 - window : i + 1]) / window
        lo = math.fsum(losses[i + 1 - window : i + 1]) / window
        out.append(_rsi_from_averages(g, lo))
    return out


def rsi_wilder(close, window: int) -> list[float]:
    """Wilder's RSI: the first averages are the simple means of the gains and losses of bars
    ``1..window``; after that ``avg = (avg * (window - 1) + x) / window``."""
    gains, losses = _gains_losses(close)
    out = [_NAN] * len(close)
    if len(close) <= window:
        return out
    g = math.fsum(gains[1 : window + 1]) / window
    lo = math.fsum(losses[1 : window + 1]) / window
    out[window] = _rsi_from_averages(g, lo)
    for i in range(window + 1, len(close)):
        g = (g * (window - 1) + gains[i]) / window
        lo = (lo * (window - 1) + losses[i]) / window
        out[i] = _rsi_from_averages(g, lo)
    return out


def macd(close, fast: int, slow: int, signal: int):
    """MACD line = EMA(fast) - EMA(slow); signal = EMA(signal) of that line; histogram."""
    line = [f - s for f, s in zip(ema(close, fast), ema(close, slow))]
    sig = ema(line, signal)
    return line, sig, [m - s for m, s in zip(line, sig)]


def bollinger(close, window: int, k: float):
    """Middle = SMA; upper/lower = middle +/- k * population std of the window."""
    middle, upper, lower = [], [], []
    for i in range(len(close)):
        if i + 1 < window:
            middle.append(_NAN)
            upper.append(_NAN)
            lower.append(_NAN)
            continue
        xs = [Fraction(x) for x in close[i + 1 - window : i + 1]]  # exact mean and variance
        mean = sum(xs) / window
        std = math.sqrt(sum((x - mean) ** 2 for x in xs) / window)
        m = float(mean)
        middle.append(m)
        upper.append(m + k * std)
        lower.append(m - k * std)
    return middle, upper, lower


def true_range(high, low, close) -> list[float]:
    """max(high - low, |high - previous close|, |low - previous close|); high - low at bar 0."""
    out = []
    for i in range(len(high)):
        if i == 0:
            out.append(high[0] - low[0])
        else:
            out.append(
                max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
            )
    return out


def atr_wilder(high, low, close, window: int) -> list[float]:
    """Wilder's ATR: mean of the true ranges of bars ``1..window`` at bar ``window``, then
    ``atr = (atr * (window - 1) + tr) / window``."""
    tr = true_range(high, low, close)
    out = [_NAN] * len(high)
    if len(high) <= window:
        return out
    value = math.fsum(tr[1 : window + 1]) / window
    out[window] = value
    for i in range(window + 1, len(high)):
        value = (value * (window - 1) + tr[i]) / window
        out[i] = value
    return out


def rolling_min(a, window: int) -> list[float]:
    """Smallest of the last ``window`` values (the current one included)."""
    return [_NAN if i + 1 < window else min(a[i + 1 - window : i + 1]) for i in range(len(a))]


def rolling_max(a, window: int) -> list[float]:
    """Largest of the last ``window`` values (the current one included)."""
    return [_NAN if i + 1 < window else max(a[i + 1 - window : i + 1]) for i in range(len(a))]


def stochastic(high, low, close, k_window: int, d_window: int):
    """%K = 100 * (close - lowest low) / (highest high - lowest low), NaN for a zero range;
    %D = mean of the last ``d_window`` %K, NaN if any of them is NaN."""
    k = []
    for i in range(len(close)):
        if i + 1 < k_window:
            k.append(_NAN)
            continue
        lo = min(low[i + 1 - k_window : i + 1])
        hi = max(high[i + 1 - k_window : i + 1])
        k.append(_NAN if hi == lo else 100.0 * (close[i] - lo) / (hi - lo))
    d = []
    for i in range(len(k)):
        last = k[i + 1 - d_window : i + 1] if i + 1 >= d_window else []
        ok = len(last) == d_window and not any(math.isnan(x) for x in last)
        d.append(math.fsum(last) / d_window if ok else _NAN)
    return k, d


# == end of backtest indicators ==================================================================
