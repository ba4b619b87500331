"""`genepool data import/append/info/verify` through genepool.cli.main."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from genepool.backtest import _store_import, load_ohlcv, open_store, synthetic_ohlcv
from genepool.cli import main


@pytest.fixture
def prices(tmp_path: Path) -> Path:
    folder = tmp_path / "prices"
    folder.mkdir()
    synthetic_ohlcv(300, "1h", seed=1).to_csv(folder / "AAA.csv")
    synthetic_ohlcv(200, "1D", seed=2, start="2019-01-01").to_parquet(folder / "BBB.parquet")
    return folder


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("genepool: error: "), err
    assert "Traceback" not in err
    return err


def test_import_info_verify(tmp_path, prices, capsys):
    store = tmp_path / "store"
    files = [str(prices / "AAA.csv"), str(prices / "BBB.parquet")]
    assert main(["data", "import", *files, "--store", str(store)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["imported AAA: 300 bars", "imported BBB: 200 bars"]
    assert out[2].startswith(f"store {store}: 2 symbols, 500 bars, ")
    pd.testing.assert_frame_equal(
        open_store(store).frame("BBB"), load_ohlcv(prices / "BBB.parquet")
    )

    assert main(["data", "info", str(store)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["symbol", "bars", "start", "end", "freq", "bars/year", "size"]
    assert lines[1].split()[:5] == [
        "AAA",
        "300",
        "2020-01-01T00:00:00",
        "2020-01-13T11:00:00",
        "h",
    ]
    assert lines[2].split()[:2] == ["BBB", "200"] and " 24h " in lines[2]
    assert lines[3].startswith("total: 2 symbols, 500 bars, ")

    assert main(["data", "info", str(store), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [r["symbol"] for r in info["symbols"]] == ["AAA", "BBB"]
    assert info["n_bars"] == 500 and info["checksum"]["algorithm"] == "sha256"

    assert main(["data", "verify", str(store)]) == 0
    assert capsys.readouterr().out.startswith("ok: 2 symbols, ")


def test_verify_names_the_damaged_file(tmp_path, prices, capsys):
    store = tmp_path / "store"
    assert main(["data", "import", str(prices / "AAA.csv"), "--store", str(store), "-q"]) == 0
    path = store / "symbols" / "AAA" / "high.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["data", "verify", str(store)]) == 2
    err = _one_error_line(capsys)
    assert "AAA's high (symbols/AAA/high.npy) fails its sha256 checksum" in err
    os.truncate(path, 100)
    assert main(["data", "info", str(store)]) == 2
    assert "is truncated" in _one_error_line(capsys)


def test_append_and_import_append(tmp_path, prices, capsys):
    whole = synthetic_ohlcv(300, "1h", seed=1)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    whole.iloc[:100].to_csv(tmp_path / "a" / "AAA.csv")
    whole.iloc[100:].to_csv(tmp_path / "b" / "AAA.csv")
    store = tmp_path / "store"
    assert main(["data", "import", str(tmp_path / "a" / "AAA.csv"), "--store", str(store)]) == 0
    assert main(["data", "append", str(store), str(tmp_path / "b" / "AAA.csv")]) == 0
    assert "appended AAA: 200 bars (300 in all)" in capsys.readouterr().out
    pd.testing.assert_frame_equal(open_store(store).frame("AAA"), whole)
    args = ["data", "import", str(prices / "BBB.parquet"), "--store", str(store), "--append"]
    assert main(args) == 0
    assert open_store(store).symbols == ("AAA", "BBB")
    # appending bars already there: refused, store unchanged
    capsys.readouterr()
    assert main(["data", "append", str(store), str(tmp_path / "b" / "AAA.csv")]) == 2
    assert "is not after" in _one_error_line(capsys)
    assert open_store(store).n_bars("AAA") == 300
    assert main(["data", "append", str(tmp_path / "nothing"), str(prices / "AAA.csv")]) == 2
    assert "not a genepool data store" in _one_error_line(capsys)


def test_never_overwrites(tmp_path, prices, capsys):
    store = tmp_path / "store"
    assert main(["data", "import", str(prices / "AAA.csv"), "--store", str(store)]) == 0
    capsys.readouterr()
    assert main(["data", "import", str(prices / "AAA.csv"), "--store", str(store)]) == 2
    err = _one_error_line(capsys)
    assert "not empty" in err and "genepool data append" in err and "append=True" not in err


def test_long_table_errors_name_symbol_row_and_time(tmp_path, capsys):
    parts = [synthetic_ohlcv(100, "1h", seed=k).assign(sym=f"S{k}") for k in range(2)]
    table = pd.concat(parts).sort_index(kind="stable").reset_index()
    table.loc[150, "high"] = 0.5 * table.loc[150, "low"]
    table.to_csv(tmp_path / "long.csv", index=False)
    args = ["data", "import", str(tmp_path / "long.csv"), "--store", str(tmp_path / "s"),
            "--symbol-column", "sym", "--chunk-rows", "40"]  # fmt: skip
    assert main(args) == 2
    err = _one_error_line(capsys)
    assert f"symbol {table.loc[150, 'sym']}" in err
    assert f"row 150 (time {table.loc[150, 'time']})" in err
    assert not (tmp_path / "s").exists()
    assert main([*args, "--sort"]) == 2
    assert "--sort" in _one_error_line(capsys)


def test_disk_full_exits_74(tmp_path, prices, capsys, monkeypatch):
    def full(path, offset, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_store_import, "_write_at", full)
    args = ["data", "import", str(prices / "AAA.csv"), "--store", str(tmp_path / "s")]
    assert main(args) == 74
    err = _one_error_line(capsys)
    assert "No space left on device" in err and "nothing was imported" in err
    assert not (tmp_path / "s").exists()


def test_usage(capsys, tmp_path):
    assert main(["data", "import", "x.csv"]) == 2
    assert "--store" in _one_error_line(capsys)
    assert main(["data", "verify", str(tmp_path / "none")]) == 2
    assert "no store at" in _one_error_line(capsys)
