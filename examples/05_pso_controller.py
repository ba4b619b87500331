"""Tune the PID gains that balance a cart-pole pushed by a constant 2 N force, with PSO and GA.

Each candidate is scored by simulating the closed loop for 5 s (the whole swarm in one parallel
numba call): integral of time-weighted absolute angle error plus control effort, and a large
penalty when the pole falls or the controller asks for more than 20 N. The closed-loop response
of the best gains is saved as a PNG.

Run: python examples/05_pso_controller.py [out.png]   (or set GENEPOOL_EXAMPLE_OUT)
"""

import os
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt

import genepool as gp
from genepool.problems.control import CartPole

out = Path(
    sys.argv[1]
    if len(sys.argv) > 1
    else os.environ.get(
        "GENEPOOL_EXAMPLE_OUT", Path(tempfile.gettempdir()) / "05_pso_controller.png"
    )
)
plant = CartPole("pid", disturbance=2.0)  # genes kp, ki, kd; u = kp th + ki int(th) + kd th'

results = {}
for name, optimizer in [
    ("PSO", gp.PSO(plant.space, swarm_size=40, seed=0)),
    ("GA", gp.GA(plant.space, population_size=40, seed=0)),
]:
    res = gp.minimize(plant, optimizer, generations=60, progress=False)
    results[name] = res
    gains = ", ".join(f"{k}={v:.2f}" for k, v in res.best_params.items())
    print(f"{name}: best cost {res.best_fitness:.5f} with {gains} ({res.n_evaluations} runs)")

winner = min(results, key=lambda k: results[k].best_fitness)
fig, axes = plt.subplots(3, 1, figsize=(7, 7), sharex=True)
for name, res in results.items():
    traj = plant.simulate(res.best_x)
    for ax, key, label in zip(
        axes, ("theta", "x", "u"), ("pole angle (rad)", "cart position (m)", "force u (N)")
    ):
        ax.plot(traj["t"], traj[key], label=name, ls="-" if name == winner else "--")
        ax.set_ylabel(label)
axes[2].axhline(-plant.disturbance, color="grey", lw=0.8, label="minus the disturbance")
axes[2].legend(loc="upper right")
axes[0].legend()
axes[2].set_xlabel("time (s)")
fig.suptitle("Cart-pole PID tuned by PSO and GA: closed-loop response")
fig.tight_layout()
fig.savefig(out, dpi=100)
print(f"best: {winner}; closed-loop response saved to {out}")
