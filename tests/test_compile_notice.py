"""A run says why its first generation waits while numba compiles, and only then.

numba signals a compilation (not a load from its on-disk cache): the notice must appear when
a kernel really compiles, before the wait, once per run, and never when every kernel comes
from the cache."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import genepool as gp
import genepool._numba as gnb
from genepool._numba import COMPILE_NOTICE, compile_notice

KERNELS = """
from genepool._numba import njit


@njit
def _inner(x):
    return x * 2.0


@njit
def double_sum(X):
    s = np.zeros(X.shape[0])
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            s[i] += _inner(X[i, j])
    return s
"""


def _fresh_kernels(tmp_path):
    """The probe module imported anew: new dispatchers, the same on-disk cache."""
    path = tmp_path / "probe_kernels.py"
    if not path.exists():
        path.write_text("import numpy as np\n" + KERNELS)
    spec = importlib.util.spec_from_file_location("probe_kernels", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def probe(tmp_path, monkeypatch):
    monkeypatch.setattr(gnb, "OWN_MODULES", ("genepool.", "probe_kernels"))
    return lambda: _fresh_kernels(tmp_path)


def test_notice_once_when_kernels_compile_and_never_from_the_cache(probe):
    said = []
    kernels = probe()
    with compile_notice(said.append):
        kernels.double_sum(np.ones((2, 3)))  # two kernels compile: one notice
        kernels.double_sum(np.ones((2, 3)))
    assert said == [COMPILE_NOTICE]
    said.clear()
    with compile_notice(said.append):
        probe().double_sum(np.ones((2, 3)))  # loaded from the cache written above
    assert said == []


def test_foreign_kernels_and_plain_calls_say_nothing(probe):
    import numba

    said = []
    with compile_notice(said.append):
        numba.njit(lambda x: x + 1)(1.0)  # not genepool's
    assert said == []


def test_a_run_prints_the_notice_before_its_first_generation(probe, capsys):
    def run():
        kernels = probe()
        return gp.minimize(
            lambda X: kernels.double_sum(X),
            gp.GA(gp.Space.box(-1, 1, 3), 10, seed=0),
            generations=3,
            progress="lines",
        )

    run()
    err = capsys.readouterr().err.splitlines()
    assert err.count(COMPILE_NOTICE) == 1
    assert err.index(COMPILE_NOTICE) < next(i for i, x in enumerate(err) if x.startswith("gen"))
    run()  # same kernels, now cached
    assert COMPILE_NOTICE not in capsys.readouterr().err


SCRIPT = textwrap.dedent(
    """
    import genepool as gp
    gp.minimize(gp.problems.rastrigin, gp.GA(gp.Space.box(-5, 5, 3), 10, seed=0),
                generations=2, progress="lines")
    """
)


@pytest.mark.slow
def test_first_run_on_an_empty_numba_cache_says_it_compiles(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}

    def stderr():
        cmd = [sys.executable, "-c", SCRIPT]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stderr

    assert stderr().count(COMPILE_NOTICE) == 1
    assert COMPILE_NOTICE not in stderr()
