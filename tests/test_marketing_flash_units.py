"""Pure rules of flash sales: when reconciliation publishes an unanswered intent again."""

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from marketing.flash_sales.service import requeue_due

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def copies(after_s: int, max_s: int, every_s: int, hours: int) -> list[int]:
    """Seconds after recording at which a reconciler running every ``every_s`` republishes
    a ticket that never gets an order."""
    requeued_at: datetime | None = None
    sent = []
    t = 0
    while t <= hours * 3600:
        now = START + timedelta(seconds=t)
        if requeue_due(START, requeued_at, now, after_s, max_s):
            requeued_at = now
            sent.append(t)
        t += every_s
    return sent


def test_copies_wait_twice_as_long_each_time_up_to_the_cap() -> None:
    assert copies(after_s=20, max_s=600, every_s=5, hours=1)[:7] == [
        20,
        40,
        80,
        160,
        320,
        640,
        1240,
    ]
    gaps = [b - a for a, b in zip(copies(20, 600, 5, 2), copies(20, 600, 5, 2)[1:], strict=False)]
    assert max(gaps) == 600


@given(
    after_s=st.integers(1, 120),
    max_s=st.integers(1, 3600),
    every_s=st.integers(1, 60),
)
def test_never_before_the_delay_and_never_flooding(after_s: int, max_s: int, every_s: int) -> None:
    sent = copies(after_s, max_s, every_s, hours=2)
    assert sent and sent[0] >= after_s
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert all(g >= after_s for g in gaps)
    # Doubling waits reach the cap (or the delay, if larger) within a few copies; from there
    # the copies are at least that far apart.
    floor = max(after_s, max_s)
    assert len(sent) <= 2 + (2 * 3600) / floor + 12


def test_the_first_copy_waits_for_the_delay() -> None:
    just_before = START + timedelta(seconds=19.9)
    assert not requeue_due(START, None, just_before, 20, 600)
    assert requeue_due(START, None, START + timedelta(seconds=20), 20, 600)
