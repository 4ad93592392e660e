"""BG/NBD and Gamma-Gamma: gradients, parameter recovery from simulated customers, and
predictions that match what the simulated customers then do."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from ml import btyd
from ml.btyd_simulation import simulate, summarise
from ml.errors import MLError

TRUE = btyd.BGNBDParams(r=0.25, alpha=30.0, a=0.8, b=2.5)  # CDNOW-like, days
SPEND = btyd.GammaGammaParams(p=6.0, q=4.0, v=15.0)
CUSTOMERS = 20_000
CUTOFF = 273.0


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(5)
    births = rng.uniform(0, 90, CUSTOMERS)  # a quarter's cohort, like CDNOW
    return simulate(TRUE, SPEND, CUSTOMERS, births, end_day=CUTOFF + 273, seed=11)


@pytest.fixture(scope="module")
def calibration(simulated):
    return summarise(simulated.transactions, CUTOFF, whole_days=False)


def test_gradient_matches_finite_differences(calibration) -> None:
    x, t_x, T = (calibration[c].to_numpy() for c in ("x", "t_x", "T"))
    unique, weights = btyd._compress(x, t_x, T)
    theta = np.log([0.3, 25.0, 0.9, 2.0])

    def value(t: np.ndarray) -> float:
        return btyd._bgnbd_objective(t, *unique.T, weights)[0]

    analytic = btyd._bgnbd_objective(theta, *unique.T, weights)[1]
    numeric = approx_fprime(theta, value, 1e-7)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-7)


def test_gamma_gamma_gradient_matches_finite_differences(calibration) -> None:
    repeat = calibration[calibration["x"] > 0]
    x, m = repeat["x"].to_numpy(), repeat["mean_repeat_value"].to_numpy()
    theta = np.log([4.0, 3.0, 20.0])
    analytic = btyd._gamma_gamma_objective(theta, x, m)[1]
    numeric = approx_fprime(theta, lambda t: btyd._gamma_gamma_objective(t, x, m)[0], 1e-7)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-7)


def test_recovers_known_bgnbd_parameters(calibration) -> None:
    fitted = btyd.fit_bgnbd(calibration["x"], calibration["t_x"], calibration["T"])
    # the population mean rate r / alpha and mean dropout a / (a + b) are what the data pin
    # down best; each parameter within 20% on 20k simulated customers
    assert fitted.r / fitted.alpha == pytest.approx(TRUE.r / TRUE.alpha, rel=0.1)
    assert fitted.a / (fitted.a + fitted.b) == pytest.approx(TRUE.a / (TRUE.a + TRUE.b), rel=0.1)
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fitted, name) == pytest.approx(getattr(TRUE, name), rel=0.2), name


def test_fit_is_better_than_the_truth_only_by_noise(calibration) -> None:
    x, t_x, T = (calibration[c].to_numpy() for c in ("x", "t_x", "T"))
    fitted = btyd.fit_bgnbd(x, t_x, T)
    ll_fit = btyd.bgnbd_log_likelihood(fitted, x, t_x, T).sum()
    ll_true = btyd.bgnbd_log_likelihood(TRUE, x, t_x, T).sum()
    assert ll_fit >= ll_true  # the maximum is at least the truth's likelihood
    assert ll_fit - ll_true < 10  # and not far above it: 4 parameters' worth of noise


def test_predictions_match_what_customers_do_next(simulated, calibration) -> None:
    fitted = btyd.fit_bgnbd(calibration["x"], calibration["t_x"], calibration["T"])
    x, t_x, T = (calibration[c].to_numpy() for c in ("x", "t_x", "T"))
    expected = btyd.expected_purchases(fitted, x, t_x, T, 273)
    probability = btyd.probability_of_purchase(fitted, x, t_x, T, 273)
    alive = btyd.probability_alive(fitted, x, t_x, T)
    tx = simulated.transactions
    later = tx[(tx["day"] >= CUTOFF) & (tx["day"] < CUTOFF + 273)]
    actual = later.groupby("customer").size().reindex(calibration.index, fill_value=0).to_numpy()
    truly_alive = simulated.death_day[calibration.index] >= CUTOFF
    assert expected.sum() == pytest.approx(actual.sum(), rel=0.08)
    assert probability.mean() == pytest.approx((actual > 0).mean(), abs=0.02)
    assert alive.mean() == pytest.approx(truly_alive.mean(), abs=0.03)
    # and per frequency: customers with more repeat purchases buy more, as predicted
    for low, high in ((0, 0), (1, 2), (3, 100)):
        group = (x >= low) & (x <= high)
        assert expected[group].mean() == pytest.approx(actual[group].mean(), rel=0.15), (low, high)


def test_probability_alive_is_one_without_repeat_purchases() -> None:
    alive = btyd.probability_alive(
        TRUE, np.array([0.0, 0.0]), np.array([0.0, 0.0]), np.array([10.0, 300.0])
    )
    np.testing.assert_allclose(alive, 1.0)


def test_recovers_gamma_gamma_and_shrinks_to_the_population_mean(simulated, calibration) -> None:
    repeat = calibration[calibration["x"] > 0]
    fitted = btyd.fit_gamma_gamma(repeat["x"], repeat["mean_repeat_value"])
    assert fitted.population_mean == pytest.approx(SPEND.population_mean, rel=0.1)
    assert fitted.p == pytest.approx(SPEND.p, rel=0.25)
    one = btyd.expected_order_value(fitted, np.array([1.0]), np.array([1000.0]))[0]
    many = btyd.expected_order_value(fitted, np.array([50.0]), np.array([1000.0]))[0]
    # one order of 1000 says little; fifty say a lot: the estimate moves towards 1000
    assert fitted.population_mean < one < many < 1000


def test_too_few_buyers_and_inconsistent_inputs_are_clear_errors() -> None:
    with pytest.raises(MLError, match="at least 20 buyers"):
        btyd.fit_bgnbd(np.zeros(5), np.zeros(5), np.ones(5))
    with pytest.raises(MLError, match="inconsistent"):
        btyd.fit_bgnbd(np.ones(30), np.full(30, 5.0), np.full(30, 2.0))
