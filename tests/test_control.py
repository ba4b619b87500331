"""problems.control.CartPole against a pure-Python simulation and closed-form control theory."""

from __future__ import annotations

import math

import numpy as np
import pytest

import genepool as gp
from genepool.errors import ConfigError
from genepool.problems.control import CONTROLLERS, CartPole

# -- the naive twin: the same model, written as plainly as possible ------------------------------


def naive_derivative(state, u, M=1.0, m=0.1, length=0.5, g=9.81):
    """d/dt (x, x', theta, theta') of the frictionless cart-pole (Barto et al. 1983) under a
    total force u on the cart."""
    _, v, th, om = state
    temp = (u + m * length * om**2 * math.sin(th)) / (M + m)
    th_acc = (g * math.sin(th) - math.cos(th) * temp) / (
        length * (4 / 3 - m * math.cos(th) ** 2 / (M + m))
    )
    x_acc = temp - m * length * th_acc * math.cos(th) / (M + m)
    return [v, x_acc, om, th_acc]


def naive_rollout(
    gains,
    controller,
    s0=(0.0, 0.0, 0.2, 0.0),
    *,
    x_ref=0.0,
    dt=0.01,
    duration=5.0,
    u_max=20.0,
    theta_max=math.pi / 4,
    x_max=math.inf,
    effort=1e-3,
    position_weight=None,
    penalty=1e6,
    disturbance=0.0,
):
    """Cost and trajectory rows (t, x, x', theta, theta', u) of one run, step by step."""
    if position_weight is None:
        position_weight = 0.0 if controller == "pid" else 1.0
    n = round(duration / dt)
    state = [float(s) for s in s0]
    integral = 0.0
    cost = 0.0
    rows = []
    for k in range(n + 1):
        x, v, th, om = state
        failed = math.isnan(th) or abs(th) > theta_max or abs(x) > x_max
        if not failed:
            if controller == "pid":
                u = gains[0] * th + gains[1] * integral + gains[2] * om
            else:
                u = gains[0] * (x - x_ref) + gains[1] * v + gains[2] * th + gains[3] * om
            failed = abs(u) > u_max
        if failed:
            return penalty * (2 - k / n), rows
        rows.append((k * dt, x, v, th, om, u))
        if k == n:
            return cost, rows
        error = abs(th) + position_weight * abs(x - x_ref)
        cost += dt * (k * dt * error + effort * u * u)
        integral += dt * th
        force = u + disturbance
        k1 = naive_derivative(state, force)
        k2 = naive_derivative([s + dt / 2 * d for s, d in zip(state, k1)], force)
        k3 = naive_derivative([s + dt / 2 * d for s, d in zip(state, k2)], force)
        k4 = naive_derivative([s + dt * d for s, d in zip(state, k3)], force)
        state = [
            s + dt / 6 * (a + 2 * b + 2 * c + d) for s, a, b, c, d in zip(state, k1, k2, k3, k4)
        ]
    raise AssertionError("unreachable")


def _gains(controller, n, seed):
    space = CartPole(controller).space
    G = space.sample(n, np.random.default_rng(seed))
    return G


# -- against the naive twin ----------------------------------------------------------------------


@pytest.mark.parametrize("controller", sorted(CONTROLLERS))
def test_evaluate_equals_naive_simulation(controller):
    G = _gains(controller, 12, seed=1)
    good = [40.0, 1.0, 8.0] if controller == "pid" else [3.16, 5.82, 47.85, 12.65]
    G = np.vstack([G, good, np.zeros(G.shape[1])])
    got = CartPole(controller).evaluate(G)
    want = [naive_rollout(g, controller)[0] for g in G]
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert (got < 1e6).any() and (got >= 1e6).any()  # both kinds were compared


def test_options_reach_the_kernel():
    kw = {
        "x_ref": 0.3,
        "dt": 0.02,
        "duration": 3.0,
        "u_max": 15.0,
        "theta_max": 0.5,
        "x_max": 0.4,
        "effort_weight": 0.01,
        "position_weight": 2.0,
        "penalty": 1e4,
        "disturbance": -0.7,
    }
    s0 = np.array([[0.0, 0.0, 0.1, 0.0], [0.1, -0.2, -0.15, 0.3]])
    plant = CartPole("state_feedback", initial_state=s0, **kw)
    G = np.vstack([_gains("state_feedback", 10, seed=2), [3.16, 5.82, 47.85, 12.65]])
    naive_kw = {
        "x_ref": 0.3,
        "dt": 0.02,
        "duration": 3.0,
        "u_max": 15.0,
        "theta_max": 0.5,
        "x_max": 0.4,
        "effort": 0.01,
        "position_weight": 2.0,
        "penalty": 1e4,
        "disturbance": -0.7,
    }
    want = [np.mean([naive_rollout(g, "state_feedback", s, **naive_kw)[0] for s in s0]) for g in G]
    np.testing.assert_allclose(plant.evaluate(G), want, rtol=1e-9)


def test_simulate_is_the_trajectory_that_evaluate_scored():
    plant = CartPole("pid")
    g = np.array([40.0, 1.0, 8.0])
    traj = plant.simulate(g)
    cost, rows = naive_rollout(g, "pid")
    rows = np.array(rows)
    for j, name in enumerate(("t", "x", "x_dot", "theta", "theta_dot", "u")):
        np.testing.assert_allclose(traj[name], rows[:, j], rtol=1e-9, atol=1e-12)
    assert float(traj["cost"]) == pytest.approx(cost, rel=1e-12)
    assert float(traj["cost"]) == plant.evaluate(g[None, :])[0]
    failed = plant.simulate(np.zeros(3))  # the pole falls: NaN after the failure
    assert np.isnan(failed["theta"][-1]) and not np.isnan(failed["theta"][0])
    assert float(failed["cost"]) >= plant.penalty


def test_batch_is_row_independent():
    plant = CartPole("state_feedback")
    G = _gains("state_feedback", 64, seed=3)
    whole = plant.evaluate(G)
    one_by_one = np.concatenate([plant.evaluate(G[i : i + 1]) for i in range(len(G))])
    np.testing.assert_array_equal(whole, one_by_one)
    np.testing.assert_array_equal(plant.evaluate(np.asfortranarray(G)), whole)


# -- closed-form sanity checks -------------------------------------------------------------------


def test_linearization_matches_the_jacobian_of_the_dynamics():
    A, B = CartPole().linearized()
    h = 1e-6
    num_A = np.zeros((4, 4))
    for j in range(4):
        e = np.zeros(4)
        e[j] = h
        num_A[:, j] = (
            np.array(naive_derivative(e, 0.0)) - np.array(naive_derivative(-e, 0.0))
        ) / (2 * h)
    num_B = (np.array(naive_derivative(np.zeros(4), h)) - naive_derivative(np.zeros(4), -h)) / (
        2 * h
    )
    np.testing.assert_allclose(A, num_A, atol=1e-6)
    np.testing.assert_allclose(B[:, 0], num_B, atol=1e-6)


def _pid_poles(plant, kp, ki, kd):
    """Poles of the linearized angle loop: states (theta, theta'), plus the integral if ki."""
    A, B = plant.linearized()
    a, b = A[3, 2], B[3, 0]  # theta'' = a theta + b u
    if ki == 0:
        return np.linalg.eigvals(np.array([[0.0, 1.0], [a + b * kp, b * kd]]))
    closed = np.array([[0.0, 1.0, 0.0], [a + b * kp, b * kd, b * ki], [1.0, 0.0, 0.0]])
    return np.linalg.eigvals(closed)


@pytest.mark.parametrize(
    ("gains", "stable"),
    [
        ((40.0, 1.0, 8.0), True),
        ((60.0, 5.0, 10.0), True),
        ((9.0, 0.0, 5.0), False),  # kp < (M + m) g = 10.79: gravity wins
        ((40.0, 0.0, 0.0), False),  # no damping: oscillates and, nonlinear, falls
        ((0.0, 0.0, 0.0), False),
    ],
)
def test_pid_stability_agrees_with_routh_hurwitz(gains, stable):
    plant = CartPole("pid", duration=8.0)
    kp, ki, kd = gains
    # Routh-Hurwitz for s^3 + a2 s^2 + a1 s + a0, theta'' = a theta + b u with b < 0
    A, B = plant.linearized()
    a, b = A[3, 2], B[3, 0]
    a2, a1, a0 = -b * kd, -(a + b * kp), -b * ki
    # (second order without the integral: s^2 + a2 s + a1)
    routh = a2 > 0 and a1 > 0 and (a0 == 0 or (a0 > 0 and a2 * a1 > a0))
    assert routh == stable
    assert (_pid_poles(plant, kp, ki, kd).real.max() < 0) == stable
    cost = plant.evaluate(np.array([gains]))[0]
    traj = plant.simulate(np.array(gains))
    if stable:
        assert cost < 1.0
        assert abs(traj["theta"][-1]) < 0.01  # from 0.2 (the integral's slow mode settles last)
    else:
        assert cost >= plant.penalty


def test_lqr_gains_stabilize_and_bring_the_cart_to_its_target():
    linalg = pytest.importorskip("scipy.linalg")
    plant = CartPole("state_feedback", x_ref=0.5, duration=10.0)
    A, B = plant.linearized()
    Q, R = np.diag([10.0, 1.0, 10.0, 1.0]), np.array([[0.1]])
    P = linalg.solve_continuous_are(A, B, Q, R)
    k = -np.linalg.solve(R, B.T @ P)[0]  # u = k . s
    assert np.linalg.eigvals(A + B @ k[None, :]).real.max() < 0
    cost = plant.evaluate(k[None, :])[0]
    traj = plant.simulate(k)
    assert cost < 10.0
    assert abs(traj["x"][-1] - 0.5) < 1e-2 and abs(traj["theta"][-1]) < 1e-3
    assert plant.evaluate(-k[None, :])[0] >= plant.penalty  # the opposite signs fail


def test_penalties_are_finite_graded_and_above_every_success():
    plant = CartPole("pid")
    # saturation at the first step: the largest penalty
    assert plant.evaluate(np.array([[200.0, 0.0, 0.0]]))[0] == 2 * plant.penalty
    G = _gains("pid", 4000, seed=4)
    G[:10] = plant.space.upper
    G[10:20] = plant.space.lower
    cost = plant.evaluate(G)
    assert np.isfinite(cost).all()
    failed = cost >= plant.penalty
    assert failed.any() and (~failed).any()
    assert cost[failed].max() <= 2 * plant.penalty
    assert cost[~failed].max() < 1e3  # far below the penalty
    # failing later costs less: a loop just short of kp > (M + m) g falls later than no loop
    late, early = plant.evaluate(np.array([[10.5, 0.0, 1.0], [0.0, 0.0, 0.0]]))
    assert plant.penalty <= late < early


# -- configuration and use with the optimizers ---------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"controller": "lqr"}, "controller 'lqr'"),
        ({"bounds": {"kq": (0, 1)}}, "unknown gene 'kq'"),
        ({"bounds": {"kp": (5, 1)}}, "kp"),
        ({"bounds": {"kp": 3}}, "bounds\\['kp'\\]"),
        ({"duration": 0}, "duration"),
        ({"dt": -0.1}, "dt"),
        ({"dt": 10.0}, "dt must be <= duration"),
        ({"initial_state": (0, 0, 0.1)}, "initial_state"),
        ({"initial_state": (0, 0, np.nan, 0)}, "initial_state"),
        ({"theta_max": 2.0}, "theta_max"),
        ({"u_max": 0}, "u_max"),
        ({"x_max": -1}, "x_max"),
        ({"pole_mass": 0}, "pole_mass"),
        ({"penalty": float("inf")}, "penalty"),
        ({"effort_weight": -1}, "effort_weight"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        CartPole(**kwargs)


def test_wrong_shapes_raise():
    plant = CartPole("pid")
    with pytest.raises(ConfigError, match=r"shape \(n, 3\)"):
        plant.evaluate(np.zeros((2, 4)))
    with pytest.raises(ConfigError, match="scenario"):
        plant.simulate(np.zeros(3), scenario=1)


def test_bounds_override_and_space():
    plant = CartPole("pid", bounds={"ki": (0, 5)})
    assert plant.space.names == ("kp", "ki", "kd")
    np.testing.assert_array_equal(plant.space.upper, [200.0, 5.0, 50.0])
    assert gp.problems.control.CartPole is CartPole
    assert "control" not in gp.problems.names()  # the benchmark registry is unchanged


@pytest.mark.parametrize("optimizer", ["pso", "ga"])
def test_optimizers_tune_a_pid_that_rejects_a_disturbance(optimizer):
    plant = CartPole("pid", disturbance=2.0)
    cls = gp.PSO if optimizer == "pso" else gp.GA
    res = gp.minimize(plant, cls(plant.space, 30, seed=0), generations=40, progress=False)
    # both find kp ~ 91, ki ~ 217, kd ~ 11 (cost 0.0563) with 40 x 60 on seeds 0-4
    assert res.best_fitness < 0.07
    assert res.best_params["ki"] > 50  # integral action holds the pole against the push
    traj = plant.simulate(res.best_x)
    assert abs(traj["theta"][-1]) < 1e-3
    assert abs(traj["u"][-1] + 2.0) < 0.05  # the controller ends up cancelling the push
