"""The bargain cut (pure): bounded, never below the floor, at the floor in the target
number of helps (or fewer when fewer fen than helps are left)."""

import random

from hypothesis import given
from hypothesis import strategies as st
from marketing.bargains.cuts import next_cut


def run(start: int, floor: int, target: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    price, helps, cuts = start, 0, []
    while price > floor and helps < 10 * target + 10:
        cut = next_cut(price, floor, target, helps, rng)
        cuts.append(cut)
        price -= cut
        helps += 1
    return cuts


@given(
    floor=st.integers(1, 100_000),
    span=st.integers(1, 1_000_000),
    target=st.integers(1, 200),
    seed=st.integers(0, 2**32),
)
def test_cuts_are_bounded_and_reach_the_floor_in_the_target_helps(
    floor: int, span: int, target: int, seed: int
) -> None:
    cuts = run(floor + span, floor, target, seed)
    assert all(c >= 1 for c in cuts)
    assert sum(cuts) == span  # exactly at the floor, never below
    assert len(cuts) == (target if span >= target else span)
    if span >= 4 * target and target >= 2:
        # Every cut but the last stays within 1.5 × an even share of what was left.
        left = span
        for i, cut in enumerate(cuts[:-1]):
            assert cut <= max(1, int(left / (target - i) * 1.5))
            left -= cut


def test_a_cut_at_the_floor_is_zero_and_the_last_help_takes_the_rest() -> None:
    rng = random.Random(1)
    assert next_cut(500, 500, 10, 3, rng) == 0
    assert next_cut(900, 500, 10, 9, rng) == 400
    assert next_cut(900, 500, 10, 15, rng) == 400  # past the target: the rest at once
