"""Slow, obviously correct twin of the backtest simulator (one Python loop per bar).

Written from the rules in the docs (vectorbt's from_signals defaults), not from the kernel:
it builds the whole value series and then computes every metric with numpy, two-pass.
"""

from __future__ import annotations

import math

import numpy as np


def replay(close, entries, exits, init_cash=10_000.0, fees=0.0, slippage=0.0, sl=0.0, tp=0.0):
    """One strategy bar by bar: (values, in_market, n_orders, trades).

    ``trades``: one dict per trade with ``entry_bar``, ``exit_bar`` (-1 if still open at the
    end), ``entry_price``, ``exit_price`` (fills after slippage; the last close if open),
    ``size``, ``pnl`` (after fees; an open trade is marked at the last close without exit
    fees), ``return`` (pnl over the cash put in) and ``exit_reason`` ("signal", "stop_loss",
    "take_profit" or "open").
    """
    cash, size, entry_price, entry_fees = float(init_cash), 0.0, 0.0, 0.0
    values, in_market, trades, n_orders = [], [], [], 0
    for t, c in enumerate(close):
        e, x = bool(entries[t]), bool(exits[t])
        reason = "signal"
        if size > 0 and sl > 0 and c <= entry_price * (1 - sl):
            e, x, reason = False, True, "stop_loss"
        elif size > 0 and tp > 0 and c >= entry_price * (1 + tp):
            e, x, reason = False, True, "take_profit"
        if e and x:
            pass
        elif e and size == 0:
            price = c * (1 + slippage)
            spend = cash / (1 + fees)
            size = spend / price
            entry_fees = cash - spend
            entry_price = price
            trades.append({"entry_bar": t, "entry_price": price, "size": size, "cash_in": cash})
            cash = 0.0
            n_orders += 1
        elif x and size > 0:
            price = c * (1 - slippage)
            exit_fees = size * price * fees
            cash += size * price - exit_fees
            pnl = size * price - size * entry_price - entry_fees - exit_fees
            trades[-1].update(exit_bar=t, exit_price=price, pnl=pnl, exit_reason=reason)
            size = 0.0
            n_orders += 1
        values.append(cash + size * c)
        in_market.append(size > 0)
    if size > 0:
        pnl = size * close[-1] - size * entry_price - entry_fees
        trades[-1].update(exit_bar=-1, exit_price=close[-1], pnl=pnl, exit_reason="open")
    for trade in trades:
        trade["return"] = trade["pnl"] / trade.pop("cash_in")
    return values, in_market, n_orders, trades


def simulate(
    close, entries, exits, init_cash=10_000.0, fees=0.0, slippage=0.0, ann=8760.0, sl=0.0, tp=0.0
):
    """Metrics dict of one strategy (close, entries, exits: 1-D sequences)."""
    values, in_market, n_orders, trades = replay(
        close, entries, exits, init_cash, fees, slippage, sl, tp
    )
    pnls = [trade["pnl"] for trade in trades]
    v = np.array(values)
    r = np.diff(np.concatenate([[init_cash], v])) / np.concatenate([[init_cash], v[:-1]])
    n = len(r)
    std = r.std(ddof=1) if n > 1 else math.nan
    downside = math.sqrt(np.mean(np.minimum(r, 0.0) ** 2)) * math.sqrt(ann)
    peak = np.maximum.accumulate(v)
    mdd = float(np.min(v / peak - 1.0))
    ann_ret = (v[-1] / init_cash) ** (ann / n) - 1.0
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    if not pnls:
        pf = math.nan
    elif not losses:
        pf = math.inf if wins else math.nan
    else:
        pf = sum(wins) / abs(sum(losses))
    return {
        "total_return": v[-1] / init_cash - 1.0,
        "sharpe_ratio": math.nan
        if n < 2
        else (math.inf if std == 0 else r.mean() / std * math.sqrt(ann)),
        "sortino_ratio": math.nan
        if n < 2
        else (math.inf if downside == 0 else r.mean() * ann / downside),
        "max_drawdown": mdd,
        "calmar_ratio": math.nan if mdd == 0 else ann_ret / abs(mdd),
        "annualized_return": ann_ret,
        "annualized_volatility": std * math.sqrt(ann),
        "n_orders": n_orders,
        "n_trades": len(pnls),
        "win_rate": math.nan if not pnls else len(wins) / len(pnls),
        "profit_factor": pf,
        "exposure": float(np.mean(in_market)),
        "final_value": v[-1],
    }
