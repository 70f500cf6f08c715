#!/usr/bin/env python3
"""Why `evald replay` pairs: a seeded simulation of the power to detect a drop in a pass rate,
paired (the same inputs answered by production and by the candidate, McNemar's exact test, as
evald computes it) against unpaired (two independent samples of the same size, a pooled
two-proportion z test). Stdlib only.

Inputs differ in difficulty d ~ U(0, 1): production fails an input with probability base * d
(mean base / 2); the candidate fails the same input with probability base * d + drop. Both use
one uniform draw per input in the paired case (the same input is as hard for both), and
independent inputs in the unpaired case.

    python3 Benchmarks/replay_power.py [--drop 0.05] [--trials 2000] [--seed 7]
"""
import argparse
import math
import random


def mcnemar_exact(lost, won):
    n = lost + won
    if n == 0:
        return 1.0
    k = min(lost, won)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def power(n, drop, base, trials, rng):
    paired = unpaired = 0
    for _ in range(trials):
        lost = won = 0
        a = b = 0
        for _ in range(n):
            d, u = rng.random(), rng.random()
            p_ok, c_ok = u > base * d, u > base * d + drop
            lost += p_ok and not c_ok
            won += c_ok and not p_ok
            a += p_ok
            d2, u2 = rng.random(), rng.random()
            b += u2 > base * d2 + drop
        if lost > won and mcnemar_exact(lost, won) < 0.05:
            paired += 1
        p1, p2 = a / n, b / n
        pooled = (p1 + p2) / 2
        se = math.sqrt(max(pooled * (1 - pooled) * 2 / n, 1e-12))
        if (p1 - p2) / se > 1.959963984540054:
            unpaired += 1
    return paired / trials, unpaired / trials


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--drop", type=float, default=0.05)
    parser.add_argument("--base", type=float, default=0.4, help="production fails an input of difficulty d with probability base * d")
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"drop {args.drop:.2f} in a pass rate of {1 - args.base / 2:.2f}; {args.trials} trials per n; seed {args.seed}")
    print()
    print("| inputs n | paired (McNemar exact) | unpaired (two-proportion z) |")
    print("|---:|---:|---:|")
    first = {}
    for n in (50, 100, 200, 400, 800, 1600):
        p, u = power(n, args.drop, args.base, args.trials, rng)
        print(f"| {n} | {p:.3f} | {u:.3f} |")
        for name, value in (("paired", p), ("unpaired", u)):
            if value >= 0.8 and name not in first:
                first[name] = n
    print()
    print(f"first n with power >= 0.8: paired {first.get('paired', '> 1600')}, unpaired {first.get('unpaired', '> 1600')}")


if __name__ == "__main__":
    main()
