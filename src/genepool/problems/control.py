"""Controller tuning: balance a cart-pole with a PID or state-feedback controller.

The genes are the controller's gains; :meth:`CartPole.evaluate` simulates the whole batch in one
parallel numba call (fixed-step classical RK4, the controller sampling the state every ``dt``
and holding its output) and returns, per candidate,

``J = sum_k dt (t_k |e_k| + effort_weight u_k^2)``,  ``e = theta + position_weight (x - x_ref)``

(the integral of time-weighted absolute error, ITAE, plus control effort), or a large finite
penalty when the pole falls, the cart leaves the track or the controller asks for more force
than the actuator has: ``penalty * (2 - t_fail / duration)``, so that lasting longer still
ranks better. Nothing is ever NaN or inf.

Examples
--------
>>> import numpy as np
>>> from genepool.problems.control import CartPole
>>> plant = CartPole("pid")
>>> plant.space.names
('kp', 'ki', 'kd')
>>> cost = plant.evaluate(np.array([[40.0, 1.0, 8.0], [0.0, 0.0, 0.0]]))
>>> bool(cost[0] < 1.0), bool(cost[1] >= plant.penalty)
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError, check_float
from ..problem import Problem
from ..space import Real, Space
from . import _control_nb as nb

__all__ = ["CONTROLLERS", "CartPole"]

#: Gene names and default bounds of each controller: ``u = sum(gain * signal)``.
CONTROLLERS: dict[str, tuple[tuple[str, float, float], ...]] = {
    # u = kp theta + ki integral(theta) + kd theta'
    "pid": (("kp", 0.0, 200.0), ("ki", 0.0, 500.0), ("kd", 0.0, 50.0)),
    # u = k_x (x - x_ref) + k_v x' + k_theta theta + k_omega theta'
    "state_feedback": (
        ("k_x", -50.0, 50.0),
        ("k_v", -50.0, 50.0),
        ("k_theta", 0.0, 200.0),
        ("k_omega", 0.0, 50.0),
    ),
}
_CODES = {"pid": nb.PID, "state_feedback": nb.STATE_FEEDBACK}
TRAJECTORY_COLUMNS = ("t", "x", "x_dot", "theta", "theta_dot", "u")


class CartPole(Problem):
    """A cart-pole (inverted pendulum on a cart) whose controller gains are the genes.

    State ``(x, x_dot, theta, theta_dot)``: cart position (m) and velocity, pole angle from
    upright (rad, positive when the pole leans towards +x) and its rate. The frictionless
    dynamics are those of Barto et al. (1983) / Gym's CartPole with a force ``u`` (N) on the
    cart; a positive force under a pole leaning towards +x rights it, so stabilizing PID gains
    are positive (``kp > (cart_mass + pole_mass) gravity``, ``kd > 0``).

    Parameters
    ----------
    controller : {"pid", "state_feedback"}, default "pid"
        ``"pid"``: ``u = kp theta + ki z + kd theta_dot`` with ``z`` the running sum of
        ``theta dt`` (a digital PID on the angle; the cart position is not controlled, as in
        the classic textbook exercise). ``"state_feedback"``:
        ``u = k_x (x - x_ref) + k_v x_dot + k_theta theta + k_omega theta_dot``.
    bounds : mapping of gene name to (low, high), optional
        Overrides of the default gene bounds (:data:`CONTROLLERS`).
    duration : float, default 5.0
        Simulated seconds.
    dt : float, default 0.01
        Control period and RK4 step (s); ``duration / dt`` is rounded to whole steps.
    initial_state : array of shape (4,) or (k, 4), default (0, 0, 0.2, 0)
        Start state(s); with several, the cost is the mean over them (robust tuning).
    x_ref : float, default 0.0
        Cart position target (state feedback; it enters the error of both controllers
        through ``position_weight``).
    cart_mass, pole_mass, pole_length, gravity : float
        Plant: 1.0 kg, 0.1 kg, 0.5 m (pivot to the pole's centre of mass), 9.81 m/s^2.
    disturbance : float, default 0.0
        A constant force (N) on the cart besides ``u`` (wind, a slope): a PID needs its integral
        term to hold the pole upright against it.
    u_max : float, default 20.0
        Actuator limit (N): a controller commanding ``|u| > u_max`` fails.
    theta_max : float, default pi / 4
        The pole counts as fallen beyond this angle (rad).
    x_max : float or None, default None
        Half-length of the track (m); None: unlimited.
    effort_weight : float, default 1e-3
        Weight of ``sum(u^2 dt)``.
    position_weight : float, optional
        Weight of ``|x - x_ref|`` in the error; default 0 for ``"pid"`` (the cart is free),
        1 for ``"state_feedback"``.
    penalty : float, default 1e6
        Cost scale of a failed run (must exceed any cost of a run that does not fail).

    Attributes
    ----------
    space : Space
        The gains, as ``Real`` genes named after :data:`CONTROLLERS`.
    """

    def __init__(
        self,
        controller: str = "pid",
        *,
        bounds: Mapping[str, tuple[float, float]] | None = None,
        duration: float = 5.0,
        dt: float = 0.01,
        initial_state: Sequence[float] | np.ndarray = (0.0, 0.0, 0.2, 0.0),
        x_ref: float = 0.0,
        cart_mass: float = 1.0,
        pole_mass: float = 0.1,
        pole_length: float = 0.5,
        gravity: float = 9.81,
        disturbance: float = 0.0,
        u_max: float = 20.0,
        theta_max: float = math.pi / 4,
        x_max: float | None = None,
        effort_weight: float = 1e-3,
        position_weight: float | None = None,
        penalty: float = 1e6,
    ) -> None:
        if controller not in CONTROLLERS:
            raise ConfigError(
                f"unknown controller {controller!r}; choose one of {sorted(CONTROLLERS)}"
            )
        self.controller = controller
        genes = {name: (low, high) for name, low, high in CONTROLLERS[controller]}
        for name, pair in dict(bounds or {}).items():
            if name not in genes:
                raise ConfigError(
                    f"bounds names unknown gene {name!r}; genes of {controller!r} are "
                    f"{list(genes)}"
                )
            try:
                low, high = (float(b) for b in pair)
            except (TypeError, ValueError):
                raise ConfigError(f"bounds[{name!r}] must be (low, high), got {pair!r}") from None
            genes[name] = (low, high)
        self.space = Space([Real(name, low, high) for name, (low, high) in genes.items()])

        self.duration = check_float("duration", duration, low=0.0, low_inclusive=False)
        self.dt = check_float("dt", dt, low=0.0, low_inclusive=False)
        self.n_steps = round(self.duration / self.dt)
        if self.n_steps < 1:
            raise ConfigError(f"dt must be <= duration ({self.duration}), got {dt!r}")
        try:
            s0 = np.array(initial_state, dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(
                f"initial_state must be numbers of shape (4,) or (k, 4), got {initial_state!r}"
            ) from None
        if s0.ndim == 1:
            s0 = s0[None, :]
        if s0.ndim != 2 or s0.shape[1] != 4 or s0.shape[0] < 1 or not np.isfinite(s0).all():
            raise ConfigError(
                f"initial_state must be finite with shape (4,) or (k, 4), got {initial_state!r}"
            )
        self.initial_state = s0
        self.x_ref = check_float("x_ref", x_ref)
        self.cart_mass = check_float("cart_mass", cart_mass, low=0.0, low_inclusive=False)
        self.pole_mass = check_float("pole_mass", pole_mass, low=0.0, low_inclusive=False)
        self.pole_length = check_float("pole_length", pole_length, low=0.0, low_inclusive=False)
        self.gravity = check_float("gravity", gravity, low=0.0)
        self.disturbance = check_float("disturbance", disturbance)
        self.u_max = check_float("u_max", u_max, low=0.0, low_inclusive=False)
        self.theta_max = check_float(
            "theta_max", theta_max, low=0.0, high=math.pi / 2, low_inclusive=False
        )
        self.x_max = (
            None if x_max is None else check_float("x_max", x_max, low=0.0, low_inclusive=False)
        )
        self.effort_weight = check_float("effort_weight", effort_weight, low=0.0)
        default_pw = 0.0 if controller == "pid" else 1.0
        self.position_weight = (
            default_pw
            if position_weight is None
            else check_float("position_weight", position_weight, low=0.0)
        )
        self.penalty = check_float("penalty", penalty, low=0.0, low_inclusive=False)

    # -- kernel arguments --------------------------------------------------------------------
    def _args(self) -> tuple[Any, ...]:
        plant = np.array(
            [self.cart_mass, self.pole_mass, self.pole_length, self.gravity, self.disturbance]
        )
        x_max = np.inf if self.x_max is None else self.x_max
        limits = np.array([self.u_max, self.theta_max, x_max])
        weights = np.array([self.effort_weight, self.position_weight, self.penalty])
        return plant, self.dt, self.n_steps, limits, weights

    def _gains(self, X: npt.ArrayLike) -> np.ndarray:
        G = np.ascontiguousarray(X, dtype=np.float64)
        if G.ndim != 2 or G.shape[1] != self.space.dims:
            raise ConfigError(f"X must have shape (n, {self.space.dims}), got {G.shape}")
        return G

    # -- Problem -----------------------------------------------------------------------------
    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """Cost of each row of gains.

        Parameters
        ----------
        X : ndarray of shape (n_candidates, n_gains)
            Gains in the order of ``space.names``.

        Returns
        -------
        ndarray of shape (n_candidates,)
            Finite costs, >= ``penalty`` for runs that fail.
        """
        G = self._gains(X)
        plant, dt, n_steps, limits, weights = self._args()
        out = np.empty(G.shape[0])
        return nb.cost_nb(
            G, _CODES[self.controller], self.initial_state, self.x_ref,
            plant, dt, n_steps, limits, weights, out,
        )  # fmt: skip

    def bytes_per_candidate(self) -> int:
        return 64  # one cost and the gains: the simulation keeps O(1) state per candidate

    def simulate(self, gains: npt.ArrayLike, scenario: int = 0) -> dict[str, np.ndarray]:
        """The closed-loop trajectory of one gain vector (what :meth:`evaluate` scored).

        Parameters
        ----------
        gains : array of shape (n_gains,)
            One row of ``X``.
        scenario : int, default 0
            Which row of ``initial_state`` to start from.

        Returns
        -------
        dict
            ``"t", "x", "x_dot", "theta", "theta_dot", "u"``: arrays of shape
            ``(n_steps + 1,)``, NaN after a failure; ``"cost"``: the cost of this scenario
            (a 0-d array).
        """
        G = self._gains(np.asarray(gains, dtype=np.float64).reshape(1, -1))
        if not 0 <= scenario < self.initial_state.shape[0]:
            raise ConfigError(
                f"scenario must be in [0, {self.initial_state.shape[0]}), got {scenario!r}"
            )
        plant, dt, n_steps, limits, weights = self._args()
        traj = np.full((n_steps + 1, len(TRAJECTORY_COLUMNS)), np.nan)
        cost = nb.rollout_nb(
            G[0], _CODES[self.controller], self.initial_state[scenario], self.x_ref,
            plant, dt, n_steps, limits, weights, traj,
        )  # fmt: skip
        out = {name: traj[:, j].copy() for j, name in enumerate(TRAJECTORY_COLUMNS)}
        out["cost"] = np.asarray(cost)
        return out

    def linearized(self) -> tuple[np.ndarray, np.ndarray]:
        """``(A, B)`` of the plant linearized about upright: ``s' = A s + B u``,
        ``s = (x, x_dot, theta, theta_dot)``; shapes ``(4, 4)`` and ``(4, 1)``."""
        total = self.cart_mass + self.pole_mass
        ml = self.pole_mass * self.pole_length
        lp = self.pole_length * (4.0 / 3.0 - self.pole_mass / total)
        g = self.gravity
        A = np.array(
            [
                [0.0, 1.0, 0.0, 0.0],
                [0.0, 0.0, -ml * g / (total * lp), 0.0],
                [0.0, 0.0, 0.0, 1.0],
                [0.0, 0.0, g / lp, 0.0],
            ]
        )
        B = np.array(
            [[0.0], [1.0 / total + ml / (total * total * lp)], [0.0], [-1.0 / (total * lp)]]
        )
        return A, B

    def __repr__(self) -> str:
        return (
            f"CartPole({self.controller!r}, duration={self.duration}, dt={self.dt}, "
            f"scenarios={self.initial_state.shape[0]})"
        )
