"""Annualization on real data: bars per year from the calendar against the 365-day year.

Not a speed benchmark: it measures how far the old rule (``Timedelta("365 days") / median bar
spacing``, vectorbt's default and genepool's until issue 14) moves annualized metrics on the
sample files backtesting.py ships (GOOG daily equity, EURUSD hourly FX, BTCUSD monthly), for
one fixed strategy (RSI 14/30/70, fees 0.1 %). The Sharpe ratio scales with
sqrt(bars per year), so the ratio column should equal sqrt(old / new).

    python benchmarks/bench_annualization.py        # prints a table, writes results/*.json
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import git_revision

RESULTS = Path(__file__).resolve().parent / "results" / "bench_annualization.json"
PARAMS = {"window": 14, "lower": 30.0, "upper": 70.0}


def main() -> None:
    import backtesting  # the test extra installs it

    from genepool.backtest import StrategyProblem, load_ohlcv

    folder = Path(os.path.dirname(backtesting.__file__)) / "test"
    rows = []
    for name in ("GOOG", "EURUSD", "BTCUSD"):
        bars = load_ohlcv(folder / f"{name}.csv")
        old = StrategyProblem(bars, "rsi", year="365 days")  # the former default
        new = StrategyProblem(bars, "rsi")  # bars per year from the calendar
        x = new.space.encode(PARAMS)
        m_old, m_new = old.metrics(x).iloc[0], new.metrics(x).iloc[0]
        rows.append(
            {
                "file": f"{name}.csv",
                "bars": len(bars),
                "bars_per_year_365_days": old.ann_factor,
                "bars_per_year_calendar": new.ann_factor,
                "how": new.annualization.method,
                "sharpe_365_days": float(m_old["sharpe_ratio"]),
                "sharpe_calendar": float(m_new["sharpe_ratio"]),
                "expected_ratio": math.sqrt(old.ann_factor / new.ann_factor),
            }
        )
    print(f"{'file':<11} {'bars':>6} {'365-day':>9} {'calendar':>9} {'Sharpe old':>11} "
          f"{'Sharpe new':>11} {'ratio':>7} {'sqrt(old/new)':>14}")  # fmt: skip
    for r in rows:
        old_s, new_s = r["sharpe_365_days"], r["sharpe_calendar"]
        ratio = old_s / new_s if math.isfinite(old_s) and new_s not in (0.0,) else float("nan")
        print(f"{r['file']:<11} {r['bars']:>6} {r['bars_per_year_365_days']:>9,.1f} "
              f"{r['bars_per_year_calendar']:>9,.1f} {old_s:>11.4f} {new_s:>11.4f} "
              f"{ratio:>7.3f} {r['expected_ratio']:>14.3f}")  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"revision": git_revision(), "rows": rows}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
