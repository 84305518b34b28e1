"""How often attribution names the injected cause, over many simulated incidents (tests/incidents.py).

    .venv/bin/python -m bench.attribution --incidents 40 --quiet 100

Per kind of cause, `--incidents` simulated incidents that would alert (random slice size, base rate,
segment mix and incident size), explained by udfs.attribution: how often the injected cause ranks first
and in the top three; and on `--quiet` streams with no incident, how many report a significant cause.
"""
from __future__ import annotations

import argparse

from tests.incidents import DIMENSIONS, KINDS, incidents, rank, simulate
from udfs.attribution import explain


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=40, help="incidents per kind of cause (default 40)")
    parser.add_argument("--quiet", type=int, default=100, help="quiet streams (default 100)")
    parser.add_argument("--seed", type=int, default=20_000, help="first seed (default 20000)")
    args = parser.parse_args(argv)
    first = top3 = total = 0
    print(f"{'cause':<10} {'first':>7} {'top 3':>7}")
    for kind in KINDS:
        ranks = [rank(simulated) for simulated in incidents(kind, args.incidents, args.seed)]
        ones, threes = sum(r == 1 for r in ranks), sum(r is not None and r <= 3 for r in ranks)
        first, top3, total = first + ones, top3 + threes, total + len(ranks)
        print(f"{kind:<10} {ones:>3}/{len(ranks):<3} {threes:>3}/{len(ranks):<3}")
    print(f"{'all':<10} {first:>3}/{total:<3} {top3:>3}/{total:<3}")
    false = sum(bool(explain(DIMENSIONS, *simulate(args.seed + 70_000 + n, None)[:4]).significant)
                for n in range(args.quiet))
    print(f"quiet streams with a significant cause: {false}/{args.quiet}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
