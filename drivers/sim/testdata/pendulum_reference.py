#!/usr/bin/python3
"""Writes pendulum_reference.json next to this script: Pendulum-v1
trajectories computed independently of the Go code, with the formulas of
Gymnasium's gymnasium/envs/classic_control/pendulum.py (PendulumEnv.step and
angle_normalize) in plain Python (math only; numpy is not needed).

    /usr/bin/python3 drivers/sim/testdata/pendulum_reference.py

pendulum_test.go compares the Go pendulum to every step to 1e-9, and checks
that the committed JSON is what this script writes.
"""
import json
import math
import os
import sys

G, M, L, DT = 10.0, 1.0, 1.0, 0.05
MAX_SPEED, MAX_TORQUE = 8.0, 2.0


def angle_normalize(x):
    return ((x + math.pi) % (2 * math.pi)) - math.pi


def clip(x, lo, hi):
    return min(max(x, lo), hi)


def step(th, thdot, u):
    u = clip(u, -MAX_TORQUE, MAX_TORQUE)
    costs = angle_normalize(th) ** 2 + 0.1 * thdot**2 + 0.001 * (u**2)
    newthdot = thdot + (3 * G / (2 * L) * math.sin(th) + 3.0 / (M * L**2) * u) * DT
    newthdot = clip(newthdot, -MAX_SPEED, MAX_SPEED)
    newth = th + newthdot * DT
    return newth, newthdot, -costs


def trajectory(name, th0, thdot0, actions):
    th, thdot, steps = th0, thdot0, []
    for u in actions:
        th, thdot, r = step(th, thdot, u)
        steps.append({"theta": th, "theta_dot": thdot, "reward": r,
                      "observation": [math.cos(th), math.sin(th), thdot]})
    return {"name": name, "theta0": th0, "theta_dot0": thdot0, "actions": actions, "steps": steps}


def main():
    cases = [
        # Near the bottom, torques within and beyond ±2 (clipped).
        trajectory("swing", 2.5, -0.7, [3.0 * math.sin(0.7 * k + 2.5) for k in range(20)]),
        # Fast through the top: the speed clips at 8 and θ leaves [−π, π]
        # (the cost wraps it, the state does not).
        trajectory("fast", 2.9, 7.6, [2.0, 2.5, 1.0, -0.5, 2.0] * 4),
    ]
    fast = cases[1]["steps"]
    assert any(s["theta_dot"] == MAX_SPEED for s in fast), "fast case never clips the speed"
    assert any(abs(s["theta"]) > math.pi for s in fast), "fast case never leaves [-pi, pi]"
    text = json.dumps(cases, indent=1) + "\n"
    if "--stdout" in sys.argv:
        sys.stdout.write(text)
        return
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pendulum_reference.json")
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
