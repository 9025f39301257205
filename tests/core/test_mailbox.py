"""The reader → worker hand-over: newest frame for live sources, a short ordered read-ahead for folders."""

from __future__ import annotations

import threading
import time

from inspector_app.core.mailbox import LatestMailbox


def test_live_put_keeps_only_the_newest_and_counts_the_rest_as_dropped() -> None:
    box: LatestMailbox[int] = LatestMailbox()
    for i in range(5):
        assert box.put(i)
    assert box.take(timeout=0) == 4
    assert box.dropped == 4
    assert box.take(timeout=0) is None


def test_blocking_put_reads_ahead_in_order_up_to_its_limit() -> None:
    box: LatestMailbox[int] = LatestMailbox(read_ahead=3)
    assert all(box.put(i, block=True, timeout=0) for i in range(3))
    assert not box.put(3, block=True, timeout=0.05)  # full: waits, then gives up
    assert [box.take(timeout=0) for _ in range(3)] == [0, 1, 2]
    assert box.dropped == 0


def test_read_ahead_is_bounded_by_bytes_but_always_takes_one_frame() -> None:
    box: LatestMailbox[str] = LatestMailbox(read_ahead=8, max_bytes=100)
    assert box.put("huge", block=True, timeout=0, nbytes=500)  # alone: always room for one
    assert not box.put("more", block=True, timeout=0.05, nbytes=10)
    assert box.take(timeout=0) == "huge"
    assert box.put("a", block=True, timeout=0, nbytes=60)
    assert not box.put("b", block=True, timeout=0.05, nbytes=60)  # 120 bytes would exceed 100


def test_a_waiting_reader_is_woken_only_when_a_quarter_of_the_read_ahead_is_left() -> None:
    box: LatestMailbox[int] = LatestMailbox(read_ahead=8)
    for i in range(8):
        box.put(i, block=True, timeout=0)
    put_done = threading.Event()

    def reader() -> None:
        box.put(8, block=True)  # no timeout: it can only go on when woken
        put_done.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    time.sleep(0.05)
    for expected in range(5):
        assert box.take(timeout=0) == expected
    assert not put_done.wait(0.2), "woken before a quarter of the read-ahead was left"
    assert box.take(timeout=0) == 5  # 2 left of 8: wake the reader
    assert put_done.wait(2)
    assert [box.take(timeout=0) for _ in range(3)] == [6, 7, 8]
    thread.join(1)


def test_held_mailbox_gives_one_item_per_step_in_order_and_all_after_release() -> None:
    box: LatestMailbox[int] = LatestMailbox()
    for i in range(4):
        box.put(i, block=True, timeout=0)
    box.hold()
    assert box.take(timeout=0.05) is None
    box.grant_step()
    assert box.take(timeout=0) == 0
    assert box.take(timeout=0.05) is None
    box.release()
    assert [box.take(timeout=0) for _ in range(3)] == [1, 2, 3]


def test_steps_are_not_banked_while_running() -> None:
    box: LatestMailbox[int] = LatestMailbox()
    box.grant_step()  # not held: nothing to remember
    box.hold()
    box.put(1, block=True, timeout=0)
    assert box.take(timeout=0.05) is None


def test_clear_forgets_without_counting_drops_and_close_ends_everything() -> None:
    box: LatestMailbox[int] = LatestMailbox()
    box.put(1, block=True, timeout=0)
    box.put(2, block=True, timeout=0)
    box.clear()
    assert box.take(timeout=0) is None and box.dropped == 0
    box.put(3, block=True, timeout=0)
    box.close()
    assert box.take(timeout=0) is None
    assert not box.put(4) and not box.put(5, block=True, timeout=0)


def test_close_wakes_a_blocked_reader_and_a_waiting_worker() -> None:
    box: LatestMailbox[int] = LatestMailbox(read_ahead=1)
    box.put(0, block=True, timeout=0)
    outcome: dict[str, object] = {}
    putter = threading.Thread(target=lambda: outcome.update(put=box.put(1, block=True)))
    empty: LatestMailbox[int] = LatestMailbox()
    taker = threading.Thread(target=lambda: outcome.update(take=empty.take()))
    putter.start()
    taker.start()
    time.sleep(0.05)
    box.close()
    empty.close()
    putter.join(2)
    taker.join(2)
    assert outcome == {"put": False, "take": None}


def test_pausing_again_keeps_a_step_not_yet_used() -> None:
    box: LatestMailbox[int] = LatestMailbox()
    box.hold()
    box.grant_step()
    box.hold()  # a second pause while the stepped frame is still being read
    box.put(7, block=True, timeout=0)
    assert box.take(timeout=0) == 7
