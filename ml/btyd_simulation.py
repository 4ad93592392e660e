"""Customers drawn from BG/NBD and Gamma-Gamma with known parameters (tests, benchmarks).

Each customer makes a first purchase on day `birth`, buys as a Poisson process with rate
lambda ~ Gamma(r, alpha) and, after every repeat purchase, drops out for good with probability
p ~ Beta(a, b) (Fader, Hardie & Lee 2005). Order values are Gamma(p_value, nu) with
nu ~ Gamma(q, v). The transactions can be loaded into raw.orders as a transactions-only
warehouse, with the truth kept aside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.btyd import BGNBDParams, GammaGammaParams


@dataclass(frozen=True)
class SimulatedCustomers:
    transactions: pd.DataFrame  # customer, day (float, days since the epoch), value
    rate: np.ndarray  # lambda per customer (purchases per day while alive)
    dropout: np.ndarray  # p per customer
    death_day: np.ndarray  # day the customer dropped out (inf: never, within the horizon)


def simulate(
    purchases: BGNBDParams,
    spend: GammaGammaParams,
    customers: int,
    birth_days: np.ndarray,
    end_day: float,
    seed: int = 0,
) -> SimulatedCustomers:
    """Transactions from each birth day until `end_day` (exclusive)."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(purchases.r, 1.0 / purchases.alpha, customers)
    dropout = rng.beta(purchases.a, purchases.b, customers)
    nu = rng.gamma(spend.q, 1.0 / spend.v, customers)
    rows_customer, rows_day = [], []
    death = np.full(customers, np.inf)
    for i in range(customers):
        day = float(birth_days[i])
        first = True
        while day < end_day:
            rows_customer.append(i)
            rows_day.append(day)
            # BG/NBD: a customer may drop out after each repeat purchase (not the first)
            if not first and rng.random() < dropout[i]:
                death[i] = day
                break
            first = False
            day += rng.exponential(1.0 / rate[i])
    customer = np.asarray(rows_customer)
    values = rng.gamma(spend.p, 1.0 / nu[customer])
    transactions = pd.DataFrame(
        {"customer": customer, "day": np.asarray(rows_day), "value": np.round(values, 2)}
    )
    return SimulatedCustomers(transactions, rate, dropout, death)


def summarise(
    transactions: pd.DataFrame, cutoff_day: float, whole_days: bool = True
) -> pd.DataFrame:
    """(x, t_x, T, mean repeat value) per customer from transactions before `cutoff_day`;
    with `whole_days`, purchases on the same day count once (as in ml_features)."""
    before = transactions[transactions["day"] < cutoff_day].copy()
    if whole_days:
        before["day"] = np.floor(before["day"])
        before = before.groupby(["customer", "day"], as_index=False)["value"].sum()
    before = before.sort_values(["customer", "day"])
    grouped = before.groupby("customer")
    first = grouped["day"].min()
    last = grouped["day"].max()
    count = grouped["day"].count()
    first_value = grouped["value"].first()
    total = grouped["value"].sum()
    x = (count - 1).astype(np.float64)
    out = pd.DataFrame(
        {
            "x": x,
            "t_x": last - first,
            "T": (np.floor(cutoff_day) if whole_days else cutoff_day) - first,
            "mean_repeat_value": np.where(x > 0, (total - first_value) / x.clip(lower=1), np.nan),
        }
    )
    return out


def simulate_summaries(
    purchases: BGNBDParams,
    spend: GammaGammaParams,
    T_days: np.ndarray,
    seed: int = 0,
) -> pd.DataFrame:
    """(x, t_x, T, mean repeat value, first value) per customer straight from the model,
    vectorised over customers (a million in seconds), for benchmarks: customer i is
    observed for T_days[i] days after a first purchase at day 0."""
    rng = np.random.default_rng(seed)
    T = np.asarray(T_days, dtype=np.float64)
    n = len(T)
    rate = rng.gamma(purchases.r, 1.0 / purchases.alpha, n)
    dropout = rng.beta(purchases.a, purchases.b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    active = np.arange(n)
    while len(active):
        nxt = t_x[active] + rng.exponential(1.0 / rate[active])
        inside = nxt < T[active]
        active = active[inside]
        x[active] += 1
        t_x[active] = nxt[inside]
        active = active[rng.random(len(active)) >= dropout[active]]
    nu = rng.gamma(spend.q, 1.0 / spend.v, n)
    first = rng.gamma(spend.p, 1.0 / nu)
    # the mean of x Gamma(p, nu) order values is Gamma(p x, x nu)
    mean = np.where(
        x > 0, rng.gamma(spend.p * np.maximum(x, 1), 1.0 / (nu * np.maximum(x, 1))), np.nan
    )
    return pd.DataFrame(
        {
            "x": x,
            "t_x": np.floor(t_x),
            "T": np.floor(T),
            "mean_repeat_value": mean,
            "first_value": first,
        }
    )
