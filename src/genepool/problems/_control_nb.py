"""Numba kernels of :mod:`genepool.problems.control`: a cart-pole under a sampled controller.

Oracle: the pure-Python simulation ``naive_rollout`` in ``tests/test_control.py``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from .._numba import njit, njit_parallel

PID, STATE_FEEDBACK = 0, 1
#: Columns of a recorded trajectory.
T_COL, X_COL, V_COL, TH_COL, OM_COL, U_COL = 0, 1, 2, 3, 4, 5


@njit
def _accel(th, om, u, cart_mass, pole_mass, length, gravity):
    """Cart and pole accelerations of the frictionless cart-pole (Barto et al. 1983, as in
    Gym's CartPole): returns ``(x'', theta'')``; theta is measured from upright."""
    total = cart_mass + pole_mass
    s = math.sin(th)
    c = math.cos(th)
    temp = (u + pole_mass * length * om * om * s) / total
    th_acc = (gravity * s - c * temp) / (length * (4.0 / 3.0 - pole_mass * c * c / total))
    x_acc = temp - pole_mass * length * th_acc * c / total
    return x_acc, th_acc


@njit
def rollout_nb(gains, controller, s0, x_ref, plant, dt, n_steps, limits, weights, traj):
    """Cost of one gain vector from one initial state; fills ``traj`` when it has rows.

    ``plant = (cart_mass, pole_mass, length, gravity, disturbance)`` (a constant force on the
    cart, added to ``u``), ``limits = (u_max, theta_max, x_max)``
    (``x_max`` inf: no track limit), ``weights = (effort, position, penalty)``. The controller
    samples the state every ``dt`` and holds ``u`` (zero-order hold) over one classical RK4 step:
    PID ``u = kp th + ki z + kd om`` with ``z_{k+1} = z_k + dt th_k``; state feedback
    ``u = k_x (x - x_ref) + k_v v + k_th th + k_om om``. Cost: left Riemann sum over
    ``k < n_steps`` of ``dt (t_k e_k + effort u_k^2)``, ``e = |th| + position |x - x_ref|``. A
    step ``k`` with ``|th| > theta_max``, ``|x| > x_max`` or ``|u| > u_max`` (or NaN) fails the
    run: cost ``penalty (2 - k / n_steps)``. Oracle: ``naive_rollout``.
    """
    M, m, length, g, dist = plant[0], plant[1], plant[2], plant[3], plant[4]
    u_max, th_max, x_max = limits[0], limits[1], limits[2]
    effort, pos_w, penalty = weights[0], weights[1], weights[2]
    record = traj.shape[0] > 0
    x, v, th, om = s0[0], s0[1], s0[2], s0[3]
    z = 0.0
    cost = 0.0
    for k in range(n_steps + 1):
        t = k * dt
        if not (abs(th) <= th_max and abs(x) <= x_max):
            return penalty * (2.0 - k / n_steps)
        if controller == PID:
            u = gains[0] * th + gains[1] * z + gains[2] * om
        else:
            u = gains[0] * (x - x_ref) + gains[1] * v + gains[2] * th + gains[3] * om
        if not abs(u) <= u_max:
            return penalty * (2.0 - k / n_steps)
        if record:
            traj[k, T_COL] = t
            traj[k, X_COL] = x
            traj[k, V_COL] = v
            traj[k, TH_COL] = th
            traj[k, OM_COL] = om
            traj[k, U_COL] = u
        if k == n_steps:
            break
        cost += dt * (t * (abs(th) + pos_w * abs(x - x_ref)) + effort * u * u)
        z += dt * th
        # classical RK4 on (x, v, th, om) with u held; the accelerations do not depend on x
        f = u + dist
        a1, b1 = _accel(th, om, f, M, m, length, g)
        v2, th2, om2 = v + 0.5 * dt * a1, th + 0.5 * dt * om, om + 0.5 * dt * b1
        a2, b2 = _accel(th2, om2, f, M, m, length, g)
        v3, th3, om3 = v + 0.5 * dt * a2, th + 0.5 * dt * om2, om + 0.5 * dt * b2
        a3, b3 = _accel(th3, om3, f, M, m, length, g)
        v4, th4, om4 = v + dt * a3, th + dt * om3, om + dt * b3
        a4, b4 = _accel(th4, om4, f, M, m, length, g)
        x = x + dt / 6.0 * (v + 2.0 * v2 + 2.0 * v3 + v4)
        v = v + dt / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4)
        th = th + dt / 6.0 * (om + 2.0 * om2 + 2.0 * om3 + om4)
        om = om + dt / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)
    return cost


@njit_parallel
def cost_nb(G, controller, S0, x_ref, plant, dt, n_steps, limits, weights, out):
    """``out[i]``: mean of :func:`rollout_nb` over the initial states ``S0`` (rows) for the gains
    ``G[i]``; parallel over candidates. Oracle: ``naive_rollout`` per row and state."""
    none = np.empty((0, 6))
    for i in prange(G.shape[0]):
        total = 0.0
        for s in range(S0.shape[0]):
            total += rollout_nb(
                G[i], controller, S0[s], x_ref, plant, dt, n_steps, limits, weights, none
            )
        out[i] = total / S0.shape[0]
    return out
