"""The CUDA backtest (genepool.backtest.gpu) against the CPU kernel.

The kernels run under numba's CUDA simulator in one subprocess (the simulator must be chosen
before numba is imported, and this process has imported numba already): it evaluates every
family, with and without stops, both RSI smoothings, non-zero fees and slippage, and the chunked
paths, with ``DeviceBacktest`` and with ``StrategyProblem.metrics_array`` (the CPU kernel), and
reports the differences. Counts must be equal and every other metric equal within 1e-12
relative (NaN where NaN, infinities alike); the simulator in fact gives the same bits. The
real-device tests skip without a CUDA device.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from genepool.backtest.enums import N_METRICS, FamilyCode, Metric
from genepool.backtest.gpu import check_device, cuda_status, metrics_mismatches
from genepool.errors import ConfigError

FAMILIES = ("rsi", "ma_cross", "bollinger", "macd", "breakout")
#: (family, stops, rsi_method) of the simulator's comparisons.
CASES = [(f, stops, "wilder") for f in FAMILIES for stops in (False, True)] + [
    ("rsi", False, "sma"),
    ("rsi", True, "sma"),
]
#: Search ranges that trade often on a few hundred bars (the defaults rarely do for RSI).
RANGES: dict[str, dict[str, list[float]]] = {
    "rsi": {"window": [2, 14], "lower": [30.0, 48.0], "upper": [52.0, 70.0]},
    "ma_cross": {"fast": [2, 10], "slow": [10, 40]},
    "bollinger": {"window": [5, 30], "k": [0.5, 2.0]},
    "macd": {"fast": [5, 12], "slow": [21, 40], "signal": [5, 12]},
    "breakout": {"window": [5, 40]},
}
STOP_RANGES = {"stop_loss": [0.002, 0.02], "take_profit": [0.002, 0.03]}
FEES, SLIPPAGE = 0.002, 0.001


def case_name(family: str, stops: bool, rsi_method: str) -> str:
    return f"{family}-{'stops' if stops else 'nostops'}-{rsi_method}"


def _problem(family: str, stops: bool, rsi_method: str, n_bars: int, seed: int = 3) -> Any:
    from genepool.backtest import StrategyProblem
    from genepool.backtest.data import synthetic_ohlcv

    ranges = dict(RANGES[family], **(STOP_RANGES if stops else {}))
    return StrategyProblem(
        synthetic_ohlcv(n_bars, freq="1h", seed=seed), family, fees=FEES, slippage=SLIPPAGE,
        stops=stops, rsi_method=rsi_method, ranges=ranges, bars_per_year=252 * 24,
    )  # fmt: skip


def _compare(
    prob: Any, n: int, seed: int = 1, memory_limit: int | None = None
) -> tuple[np.ndarray, np.ndarray, Any, dict[str, Any]]:
    """(device metrics, CPU metrics, the DeviceBacktest, the decoded parameters) of n sampled
    strategies of ``prob``."""
    from genepool.backtest.gpu import DeviceBacktest

    X = prob.space.sample(n, np.random.default_rng(seed))
    X[0] = prob.space.lower  # the corners of the space too
    X[1] = prob.space.upper
    cpu = prob.metrics_array(X)
    params = prob.space.decode(X)
    sl, tp = prob._stops(params, n)
    dev = DeviceBacktest(
        prob.data, fees=prob.fees, slippage=prob.slippage, init_cash=prob.init_cash,
        ann_factor=prob.ann_factor, rsi_method=prob.options["rsi_method"],
        memory_limit=memory_limit,
    )  # fmt: skip
    return dev.metrics(prob.family.name, params, sl, tp), cpu, dev, params


def _simulator_checks() -> dict[str, Any]:
    """Every comparison, run under the simulator (in the subprocess): for each case the
    mismatches, whether the bits are equal, and what the strategies did."""
    import warnings

    from genepool.backtest import StrategyProblem, _cuda_nb, gpu
    from genepool.backtest.stream import table_stream

    assert _cuda_nb.SIMULATOR, "NUMBA_ENABLE_CUDASIM=1 was not seen"
    warnings.simplefilter("ignore")  # numpy scalars' overflow/division warnings
    report: dict[str, Any] = {}
    for family, stops, method in CASES:
        prob = _problem(family, stops, method, n_bars=300)
        got, cpu, dev, params = _compare(prob, n=24)
        uploaded = dev.uploaded
        zeros = np.zeros(len(got))
        # the same strategies without stops (the simulator is slow: only where there are stops)
        without_stops = dev.metrics(family, params, zeros, zeros) if stops else got
        report[case_name(family, stops, method)] = {
            "mismatches": metrics_mismatches(got, cpu),
            "same_bits": bool(np.array_equal(got, cpu, equal_nan=True)),
            "trades": float(cpu[:, Metric.N_TRADES].sum()),
            "stops_changed": not np.array_equal(got, without_stops, equal_nan=True),
            "uploads_again": dev.uploaded - uploaded,
        }
        if not stops:  # the device tables are the CPU's, NaN where NaN
            stream = table_stream(family, params, prob.options)
            want = stream.tables(prob.data, 0, 0, prob.n_bars)
            have = [t.copy_to_host() for t in dev._tables(family, stream)]
            report[case_name(family, stops, method)]["tables_equal"] = all(
                np.array_equal(h, w, equal_nan=True) for h, w in zip(have, want)
            )
    # prices on a grid of half points with flat stretches: ties, flat windows (the RSI's 0/0,
    # a zero standard deviation), no fees, the close as high and low
    steps = np.random.default_rng(5).choice([-0.5, 0.0, 0.0, 0.5], size=160)
    grid = 100.0 + np.cumsum(steps)
    for family in FAMILIES:
        prob = StrategyProblem(
            grid, family, fees=0.0, slippage=0.0, stops=True, bars_per_year=252.0,
            ranges=dict(RANGES[family], **STOP_RANGES),
        )  # fmt: skip
        got, cpu, _, _ = _compare(prob, n=16, seed=4)
        report[f"grid-{family}"] = {
            "mismatches": metrics_mismatches(got, cpu),
            "same_bits": bool(np.array_equal(got, cpu, equal_nan=True)),
            "trades": float(cpu[:, Metric.N_TRADES].sum()),
        }
    # chunks: a host budget of 5 strategies per chunk; a device budget that holds the tables
    # of a few rows only, so that each chunk builds its own
    prob = _problem("ma_cross", True, "wilder", n_bars=300)
    got, cpu, _, _ = _compare(prob, n=20, memory_limit=5 * gpu.BYTES_PER_STRATEGY)
    report["chunks-host"] = {"mismatches": metrics_mismatches(got, cpu)}
    saved = gpu.SIMULATOR_MEMORY
    gpu.SIMULATOR_MEMORY = 8 * 300 * 8
    try:
        for family in ("ma_cross", "bollinger"):
            prob = _problem(family, False, "wilder", n_bars=300)
            got, cpu, _, _ = _compare(prob, n=20)
            report[f"chunks-device-{family}"] = {"mismatches": metrics_mismatches(got, cpu)}
        gpu.SIMULATOR_MEMORY = 8 * 300  # one row: too little for any strategy
        try:
            _compare(_problem("rsi", False, "wilder", n_bars=300), n=4)
            report["too-small"] = "no error"
        except ConfigError as exc:
            report["too-small"] = str(exc)
    finally:
        gpu.SIMULATOR_MEMORY = saved
    # StrategyProblem(device="cuda") end to end: the metrics, and a short GA run, whose result
    # for a seed is the CPU's
    import genepool as gp
    from genepool.backtest.data import synthetic_ohlcv

    data = synthetic_ohlcv(300, freq="1h", seed=3)
    options = {"ranges": RANGES["rsi"], "bars_per_year": 252.0 * 24, "fees": FEES}
    on_cpu = StrategyProblem(data, "rsi", **options)
    on_device = StrategyProblem(data, "rsi", device="cuda", **options)
    X = on_cpu.space.sample(12, np.random.default_rng(8))
    runs = [gp.maximize(p, gp.GA(p.space, 10, seed=2), generations=2) for p in (on_cpu, on_device)]
    report["problem"] = {
        "mismatches": metrics_mismatches(on_device.metrics_array(X), on_cpu.metrics_array(X)),
        "same_run": bool(
            np.array_equal(runs[0].best_x, runs[1].best_x)
            and runs[0].best_fitness == runs[1].best_fitness
        ),
        "series": len(on_device._devices),  # one DeviceBacktest: prices uploaded once
    }
    on_device.fit_memory(123_456_789)  # what the run loop does with memory_limit
    report["problem"]["limits"] = [d.memory_limit for d in on_device._devices.values()]
    try:
        StrategyProblem(data, "rsi", device="cuda", aggregate="portfolio", **options)
        report["portfolio"] = "no error"
    except ConfigError as exc:
        report["portfolio"] = str(exc)
    # no strategies; stops of the wrong length
    dev = _compare(_problem("rsi", False, "wilder", n_bars=300), n=2)[2]
    empty = {k: np.empty(0) for k in ("window", "lower", "upper")}
    report["empty-shape"] = list(dev.metrics("rsi", empty, np.empty(0), np.empty(0)).shape)
    try:
        dev.metrics("rsi", {"window": [5], "lower": [30.0], "upper": [70.0]}, [0.0, 0.0], [0.0])
        report["bad-stops"] = "no error"
    except ConfigError as exc:
        report["bad-stops"] = str(exc)
    return report


@pytest.fixture(scope="module")
def simulated() -> dict[str, Any]:
    tests = str(Path(__file__).resolve().parent)
    code = (
        f"import json, sys; sys.path.insert(0, {tests!r}); "
        "from test_backtest_cuda import _simulator_checks; "
        "print('@@' + json.dumps(_simulator_checks()))"
    )
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [s for s in proc.stdout.splitlines() if s.startswith("@@")][-1]
    return dict(json.loads(line[2:]))


@pytest.mark.parametrize("case", CASES, ids=[case_name(*c) for c in CASES])
def test_simulator_equals_cpu_kernel(simulated: dict[str, Any], case: tuple) -> None:
    got = simulated[case_name(*case)]
    assert got["mismatches"] == []
    assert got["same_bits"]  # the simulator runs the CPU's operations in the CPU's order
    assert got["trades"] > 0  # the strategies traded: entries, exits, fills were exercised
    assert got["uploads_again"] == 0  # the prices went up once, at construction
    # stops closed trades (the same strategies without them give other metrics)
    assert got["stops_changed"] == case[1]
    if not case[1]:
        assert got["tables_equal"]


@pytest.mark.parametrize("family", FAMILIES)
def test_simulator_ties_and_flat_prices(simulated: dict[str, Any], family: str) -> None:
    got = simulated[f"grid-{family}"]
    assert got["mismatches"] == []
    assert got["same_bits"]
    assert got["trades"] > 0


def test_simulator_chunks(simulated: dict[str, Any]) -> None:
    assert simulated["chunks-host"]["mismatches"] == []
    assert simulated["chunks-device-ma_cross"]["mismatches"] == []
    assert simulated["chunks-device-bollinger"]["mismatches"] == []
    assert "do not fit the device memory" in simulated["too-small"]


def test_simulator_strategy_problem(simulated: dict[str, Any]) -> None:
    got = simulated["problem"]
    assert got["mismatches"] == []
    assert got["same_run"]  # same seed, same result on the device
    assert got["series"] == 1
    assert got["limits"] == [123_456_789]  # the host budget bounds the device's chunks too
    assert "aggregate='portfolio'" in simulated["portfolio"]


def test_strategy_problem_cuda_without_cuda() -> None:
    from genepool.backtest import StrategyProblem

    if cuda_status()[0]:  # pragma: no cover - a machine with a GPU
        pytest.skip("CUDA is available here")
    with pytest.raises(ConfigError, match="device 'cuda' is not available"):
        StrategyProblem(np.linspace(100, 120, 400), "rsi", freq="1h", device="cuda")
    with pytest.raises(ConfigError, match="kernel must be one of"):
        StrategyProblem(np.linspace(100, 120, 400), "rsi", freq="1h", kernel="fast")


def test_simulator_edge_cases(simulated: dict[str, Any]) -> None:
    assert simulated["empty-shape"] == [0, N_METRICS]
    assert "need one value per strategy" in simulated["bad-stops"]
    assert "'sl': 2" in simulated["bad-stops"]


# -- device checks --------------------------------------------------------------------------------
def test_check_device_cpu() -> None:
    assert check_device("cpu") == "cpu"


def test_check_device_unknown_names_it() -> None:
    with pytest.raises(ConfigError, match="'tpu'"):
        check_device("tpu")


@pytest.mark.skipif(cuda_status()[0], reason="this machine has CUDA")
def test_check_device_cuda_without_cuda() -> None:
    ok, why = cuda_status()
    assert not ok and why
    with pytest.raises(ConfigError, match="the default, 'cpu'") as err:
        check_device("cuda")
    assert why in str(err.value)


@pytest.mark.skipif(cuda_status()[0], reason="this machine has CUDA")
def test_device_backtest_without_cuda() -> None:
    from genepool.backtest.gpu import DeviceBacktest

    with pytest.raises(ConfigError, match="device 'cuda'"):
        DeviceBacktest(
            {"close": np.ones(10)}, fees=0.0, slippage=0.0, init_cash=1.0, ann_factor=1.0,
            rsi_method="wilder",
        )  # fmt: skip


def test_metrics_mismatches() -> None:
    want = np.ones((2, N_METRICS))
    want[0, Metric.SHARPE_RATIO] = np.nan
    want[1, Metric.SORTINO_RATIO] = np.inf
    want[1, Metric.N_TRADES] = 3
    assert metrics_mismatches(want.copy(), want) == []
    close = want.copy()
    close[0, Metric.FINAL_VALUE] = 1.0 + 1e-13  # within 1e-12 relative
    assert metrics_mismatches(close, want) == []
    bad = want.copy()
    bad[1, Metric.N_TRADES] = 3 + 1e-13  # counts: exactly
    bad[0, Metric.SHARPE_RATIO] = 0.0  # NaN where NaN
    bad[1, Metric.SORTINO_RATIO] = -np.inf  # infinities alike
    bad[0, Metric.TOTAL_RETURN] = 1.0 + 1e-11
    lines = metrics_mismatches(bad, want)
    assert len(lines) == 4
    for name in ("n_trades", "sharpe_ratio", "sortino_ratio", "total_return"):
        assert sum(name in line for line in lines) == 1
    assert "strategy 1, n_trades: 3.0000000000001 vs 3.0" in lines
    assert metrics_mismatches(want[:1], want) == ["shapes differ: (1, 13) vs (2, 13)"]


def test_device_kernels_have_no_fma_and_no_local_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernels compile for sm_90 without a device (NVVM only), and their PTX has no fused
    multiply-add (a product rounded into a sum would break the equality with the CPU) and no
    local memory (the strategy's state stays in registers)."""
    from numba import cuda, types

    from genepool.backtest import _cuda_nb as k

    if k.SIMULATOR:
        pytest.skip("the simulator compiles nothing")
    try:
        from numba.cuda.cudadrv.nvvm import NVVM

        NVVM()
    except Exception as exc:
        pytest.skip(f"no libNVVM here: {exc}")
    if not cuda_status()[0]:  # device functions ask the current device its compute capability

        class Device:
            compute_capability = (9, 0)

        monkeypatch.setattr("numba.cuda.dispatcher.get_current_device", Device)
    f1, f2, i1 = types.float64[::1], types.float64[:, ::1], types.int64[::1]
    f = types.float64
    kernels = {
        f"simulate {code.name}": (
            k.simulate_kernel(int(code)),
            (f1, f2, f2, f2, i1, i1, f1, f1, f1, f1, f, f, f, f, f2),
        )
        for code in FamilyCode
        if code != FamilyCode.EXPLICIT
    }
    kernels["table_rows_streamed"] = (k.table_rows_streamed, (i1, i1, f1, f2))
    kernels["table_rows_elementwise"] = (
        k.table_rows_elementwise, (i1, i1, f1, i1, f1, i1, f1, i1, f1, f1, f2),
    )  # fmt: skip
    for name, (kernel, sig) in kernels.items():
        ptx, _ = cuda.compile_ptx(kernel.py_func, types.void(*sig), cc=(9, 0))
        assert "fma.rn.f64" not in ptx, name
        assert ".local" not in ptx, name
        if name.startswith("simulate"):
            assert "mul.rn.f64" in ptx, name


# -- a real device --------------------------------------------------------------------------------
needs_cuda = pytest.mark.skipif(not cuda_status()[0], reason="no CUDA device")


@needs_cuda
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("stops", [False, True])
def test_device_equals_cpu_kernel(family: str, stops: bool) -> None:  # pragma: no cover
    prob = _problem(family, stops, "wilder", n_bars=5000, seed=11)
    got, cpu, _, _ = _compare(prob, n=2000)
    assert metrics_mismatches(got, cpu) == []
    assert cpu[:, Metric.N_TRADES].sum() > 0


@needs_cuda
def test_device_rsi_sma_chunks() -> None:  # pragma: no cover
    from genepool.backtest import gpu

    prob = _problem("rsi", True, "sma", n_bars=5000, seed=12)
    got, cpu, _, _ = _compare(prob, n=3000, memory_limit=700 * gpu.BYTES_PER_STRATEGY)
    assert metrics_mismatches(got, cpu) == []


@pytest.mark.skipif(cuda_status()[0], reason="this machine has CUDA")
def test_cli_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from genepool.cli import main

    out = tmp_path / "run"
    assert main(["evolve", "--demo", "--device", "cuda", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--device 'cuda' is not available on this machine" in err[0]
    assert not out.exists()  # nothing written
    assert main(["evolve", "--problem", "rastrigin", "--device", "cuda"]) == 2
    assert "--device applies to strategy runs" in capsys.readouterr().err
    assert main(["evolve", "--demo", "--device", "gpu", "--out", str(out)]) == 2
    assert "'gpu' is not one of 'cpu', 'cuda'" in capsys.readouterr().err
