"""Simulated time: the history window, seasonality, and sampling timestamps from it.

Timestamps are int64 microseconds since the Unix epoch (UTC) throughout the generator.
Seasonality is a per-day weight (weekday pattern, November/December peak with Black Friday,
January dip, slow growth); sampling inverts the piecewise-linear cumulative weight, so a
person active from a to b gets times distributed like the season between a and b.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

SECOND_US = 1_000_000
MINUTE_US = 60 * SECOND_US
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US

# Monday .. Sunday: online shopping leans to Sunday evening and Monday.
_WEEKDAY_WEIGHT = np.array([1.05, 0.95, 0.95, 0.97, 1.0, 1.05, 1.15])
# Share of activity per hour of day (UTC-agnostic: a generic local-time curve).
_HOUR_WEIGHT = np.array(
    [0.3, 0.2, 0.12, 0.1, 0.1, 0.15, 0.35, 0.6, 0.8, 0.9, 1.0, 1.05]
    + [1.15, 1.1, 1.0, 1.0, 1.0, 1.05, 1.2, 1.4, 1.5, 1.35, 1.0, 0.6]
)
_HOUR_CDF = np.cumsum(_HOUR_WEIGHT) / _HOUR_WEIGHT.sum()


def to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * SECOND_US)


def _season_weight(day: date) -> float:
    weight = 1.0
    if day.month == 11:
        weight = 1.3
        # Black Friday (4th Thursday + 1) through Cyber Monday.
        first = date(day.year, 11, 1)
        thanksgiving = first + timedelta(days=(3 - first.weekday()) % 7 + 21)
        if thanksgiving + timedelta(days=1) <= day <= thanksgiving + timedelta(days=4):
            weight = 2.4
    elif day.month == 12:
        weight = 1.6 if day.day <= 20 else 0.9
    elif day.month == 1:
        weight = 0.85
    return weight * _WEEKDAY_WEIGHT[day.weekday()]


@dataclass(frozen=True)
class Calendar:
    """The simulated history: [start_us, end_us) with a cumulative seasonal weight per day."""

    start_us: int
    end_us: int
    cumulative: np.ndarray  # weight accumulated at each day edge, length days + 1

    @classmethod
    def build(cls, end_date: date, days: int) -> Calendar:
        if days < 1:
            raise ValueError(f"days must be at least 1, got {days}")
        first_day = end_date - timedelta(days=days - 1)
        start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
        weights = np.array(
            [
                _season_weight(first_day + timedelta(days=i)) * (1.0 + 0.25 * i / days)
                for i in range(days)
            ]
        )
        cumulative = np.concatenate([[0.0], np.cumsum(weights)])
        start_us = to_us(start)
        return cls(start_us=start_us, end_us=start_us + days * DAY_US, cumulative=cumulative)

    @property
    def days(self) -> int:
        return len(self.cumulative) - 1

    def _position(self, t_us: np.ndarray) -> np.ndarray:
        days = (np.asarray(t_us, dtype=np.float64) - self.start_us) / DAY_US
        return np.interp(days, np.arange(self.days + 1), self.cumulative)

    def weight_between(self, a_us: np.ndarray, b_us: np.ndarray) -> np.ndarray:
        """Seasonal weight of [a, b): expected activity of one unit-rate person in it."""
        return np.maximum(self._position(b_us) - self._position(a_us), 0.0)

    def sample(self, rng: np.random.Generator, a_us: np.ndarray, b_us: np.ndarray) -> np.ndarray:
        """One timestamp per (a, b) pair, seasonal within the day and by hour of day."""
        a_us = np.asarray(a_us, dtype=np.int64)
        b_us = np.asarray(b_us, dtype=np.int64)
        lo = self._position(a_us)
        hi = self._position(b_us)
        u = lo + rng.random(len(a_us)) * (hi - lo)
        day_float = np.interp(u, self.cumulative, np.arange(self.days + 1))
        day = np.floor(day_float)
        hour = np.searchsorted(_HOUR_CDF, rng.random(len(a_us)))
        time_of_day = hour * HOUR_US + (rng.random(len(a_us)) * HOUR_US).astype(np.int64)
        t = self.start_us + day.astype(np.int64) * DAY_US + time_of_day
        return np.clip(t, a_us, np.maximum(b_us - 1, a_us))

    def uniform(self, rng: np.random.Generator, a_us: np.ndarray, b_us: np.ndarray) -> np.ndarray:
        """Uniform timestamps in [a, b) (no seasonality), for delays and admin events."""
        a_us = np.asarray(a_us, dtype=np.int64)
        span = np.maximum(np.asarray(b_us, dtype=np.int64) - a_us, 1)
        return a_us + (rng.random(len(a_us)) * span).astype(np.int64)
