"""``bench/broadcast.py --processes`` explains each penalty's first 429 (issue 22 point 3): the
span of its second's 31 requests as the fake's server read them and as the fake counted them,
and how long the fake's own loop stalled in that second."""

from __future__ import annotations

from bench.fake_server import Call, Seen
from bench.processes import Outcome


def outcome(calls: list[Call], stalls: list[tuple[float, float]]) -> Outcome:
    accepted = [call.counted_at for call in calls if call.status == 200]
    refused = sum(1 for call in calls if call.status == 429)
    return Outcome(31, 3, Seen(refused, {}, accepted, 0, tuple(calls)), [], [], stalls)


def test_a_penalty_s_first_429_is_explained_by_its_second_s_reads_counts_and_loop_stalls() -> None:
    # 30 requests read 40 ms apart (over 1.16 s); the fake's loop stalled until 0.3 s and then
    # counted the first eight at once (a stall that began before the second counts); the 31st, read at 1.2 s, is counted within a second of
    # them and refused; so is the next, inside the penalty (no second explanation).
    calls = [Call(i * 0.04, i * 0.04 if i >= 8 else 0.3 + 0.001 * i, 200) for i in range(30)]
    calls += [Call(1.2, 1.21, 429), Call(1.3, 1.31, 429)]
    report = outcome(calls, [(0.01, 0.29), (0.3, 0.02), (5.0, 0.9)]).crowding()
    assert report == (
        "429 at +0.9 s: read span 1.200 s, count span 0.910 s, read→count ≤ 300 ms, the fake's "
        "loop stalled ≤ 290 ms"
    )


def test_a_run_without_429_says_so() -> None:
    calls = [Call(i * 0.04, i * 0.04, 200) for i in range(40)]
    assert outcome(calls, []).crowding() == "no 429"
