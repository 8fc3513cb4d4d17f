"""The bargain cut: pure, property-tested (``tests/test_marketing_bargains.py``).

Each help cuts a random amount around an even share of what is left, so the price reaches
the floor on the ``target_helps``-th help (sooner only when fewer fen than helps are left):

- ``left = current − floor`` and ``helps_left = target − helps_so_far`` (at least 1);
- the last planned help takes all that is left;
- otherwise the cut is uniform in [½, 1½] × ``left / helps_left``, at least 1 fen, and
  small enough that every later planned help still has at least 1 fen to cut.
A cut is never more than ``left``, so the price never goes below the floor.
"""

import random


def next_cut(
    current_fen: int, floor_fen: int, target_helps: int, helps_so_far: int, rng: random.Random
) -> int:
    left = current_fen - floor_fen
    if left <= 0:
        return 0
    helps_left = max(target_helps - helps_so_far, 1)
    if helps_left == 1 or left <= helps_left:
        return left if helps_left == 1 else 1
    share = left / helps_left
    low = max(1, int(share * 0.5))
    high = min(max(low, int(share * 1.5)), left - (helps_left - 1))
    return rng.randint(min(low, high), high)
