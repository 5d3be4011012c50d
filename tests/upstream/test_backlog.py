"""What a link still owes the upstream, read from a station's stream (``actors.upstream.backlog``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from actors.events import Event
from actors.events.station import FrameReceived, FrameSent, StationConnected
from actors.events.upstream import TransactionIdMapped, UpstreamAnswered, UpstreamCursor, UpstreamReplied
from actors.ocpp.v16.actions import TABLE
from actors.upstream.backlog import LinkLog, Pending, backlog, to_station, to_upstream

T = datetime(2026, 11, 27, 8, tzinfo=UTC)
STATION = TABLE.station_initiated


def exchange(
    seq: int, action: str, payload: dict[str, Any], answer: dict[str, Any]
) -> list[tuple[int, datetime, Event]]:
    """A station call at ``seq`` and chargeward's answer at ``seq + 1``."""
    uid = f"c{seq}"
    return [
        (seq, T, FrameReceived(conn=1, text=json.dumps([2, uid, action, payload]), action=action)),
        (seq + 1, T, FrameSent(conn=1, text=json.dumps([3, uid, answer]))),
    ]


def test_a_transaction_goes_in_order_with_its_local_id_and_status_coalesced() -> None:
    rows = [(1, T, StationConnected(conn=1, subprotocol="ocpp1.6", remote="x"))]
    rows += exchange(
        2, "StatusNotification", {"connectorId": 1, "status": "Preparing", "errorCode": "NoError"}, {}
    )
    rows += exchange(4, "Authorize", {"idTag": "T"}, {"idTagInfo": {"status": "Accepted"}})
    rows += exchange(
        6, "StartTransaction", {"connectorId": 1, "idTag": "T"}, {"transactionId": 41, "idTagInfo": {}}
    )
    rows += exchange(8, "Heartbeat", {}, {"currentTime": "x"})
    rows += exchange(10, "MeterValues", {"connectorId": 1, "transactionId": 41, "meterValue": []}, {})
    rows += exchange(
        12, "StatusNotification", {"connectorId": 1, "status": "Charging", "errorCode": "NoError"}, {}
    )
    rows += exchange(
        14, "StatusNotification", {"connectorId": 2, "status": "Available", "errorCode": "NoError"}, {}
    )
    rows += exchange(16, "Heartbeat", {}, {"currentTime": "y"})
    rows += exchange(18, "StopTransaction", {"transactionId": 41, "meterStop": 5}, {})
    items = backlog(rows, STATION, {})
    assert [(i.seq, i.action) for i in items] == [
        (6, "StartTransaction"),
        (10, "MeterValues"),
        (12, "StatusNotification"),
        (14, "StatusNotification"),
        (16, "Heartbeat"),
        (18, "StopTransaction"),
    ]
    assert items[0].local_tx == 41


def test_calls_answered_upstream_or_refused_locally_are_not_sent() -> None:
    rows = exchange(1, "MeterValues", {"connectorId": 1, "meterValue": []}, {})
    rows += [
        (
            3,
            T,
            FrameReceived(
                conn=1,
                text=json.dumps([2, "bad", "MeterValues", {}]),
                action="MeterValues",
                error="FormationViolation",
            ),
        )
    ]
    rows += exchange(4, "MeterValues", {"connectorId": 2, "meterValue": []}, {})
    # seq 4 was answered upstream live; seq 1's answer names another call (its commit failed and the
    # sequence went to this one), so it is still owed.
    assert [i.seq for i in backlog(rows, STATION, {1: "other", 4: "c4"})] == [1]


def test_a_call_the_station_got_the_upstreams_answer_to_is_not_sent_again() -> None:
    def replied(seq: int, uid: str, named: str) -> list[tuple[int, datetime, Event]]:
        """A MeterValues call at ``seq``, an UpstreamReplied naming ``named``, chargeward's answer."""
        call = FrameReceived(
            conn=1, text=json.dumps([2, uid, "MeterValues", {"connectorId": 1}]), action="MeterValues"
        )
        return [
            (seq, T, call),
            (seq + 1, T, UpstreamReplied(unique_id=named)),
            (seq + 2, T, FrameSent(conn=1, text=json.dumps([3, uid, {}]))),
        ]

    rows = replied(1, "a", "a") + replied(4, "b", "someone-else")
    assert [i.seq for i in backlog(rows, STATION, {})] == [4]


def test_the_link_log_folds_to_a_cursor_and_a_mapping() -> None:
    log = LinkLog()
    log.apply(UpstreamAnswered(seq=5, action="Heartbeat", unique_id="a", via="live", outcome="result"))
    log.apply(UpstreamAnswered(seq=9, action="MeterValues", unique_id="b", via="live", outcome="result"))
    assert log.cursor == 0 and log.answered == {5: "a", 9: "b"}
    log.apply(
        UpstreamAnswered(seq=7, action="StartTransaction", unique_id="c", via="catch-up", outcome="result")
    )
    assert log.cursor == 7 and log.answered == {9: "b"}
    log.apply(UpstreamCursor(seq=12))
    assert log.cursor == 12 and log.answered == {}
    log.apply(UpstreamCursor(seq=3))
    assert log.cursor == 12  # never back
    log.apply(TransactionIdMapped(local=41, upstream=9001))
    assert to_upstream("MeterValues", {"transactionId": 41}, log.to_upstream_ids) == {"transactionId": 9001}
    assert to_upstream("MeterValues", {"transactionId": 40}, log.to_upstream_ids) == {"transactionId": 40}
    assert to_station("RemoteStopTransaction", {"transactionId": 9001}, log.to_local_ids) == {
        "transactionId": 41
    }
    profile = {"connectorId": 1, "csChargingProfiles": {"transactionId": 9001, "chargingProfileId": 1}}
    assert (
        to_station("SetChargingProfile", profile, log.to_local_ids)["csChargingProfiles"]["transactionId"]
        == 41
    )


ACTIONS = ["Heartbeat", "StatusNotification", "MeterValues", "Authorize", "StartTransaction", "DataTransfer"]


@given(
    st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(1, 2), st.booleans()), max_size=40),
)
def test_the_backlog_keeps_order_and_only_the_latest_of_what_is_coalesced(
    calls: list[tuple[str, int, bool]],
) -> None:
    rows: list[tuple[int, datetime, Event]] = []
    answered: dict[int, str] = {}
    for index, (action, connector, was_answered) in enumerate(calls):
        seq = 2 * index + 1
        rows += exchange(seq, action, {"connectorId": connector}, {})
        if was_answered:
            answered[seq] = f"c{seq}"
    items = backlog(rows, STATION, answered)
    seqs = [i.seq for i in items]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    owed = {2 * i + 1: c for i, c in enumerate(calls) if not c[2] and c[0] != "Authorize"}
    sent = {i.seq for i in items}
    assert sent <= set(owed)
    for seq, (action, connector, _) in owed.items():
        if action in ("MeterValues", "StartTransaction", "DataTransfer"):
            assert seq in sent  # never coalesced
        else:  # sent only if no later unanswered one of its kind (and connector) follows
            later = any(
                s > seq and a == action and (action != "StatusNotification" or c == connector)
                for s, (a, c, _) in owed.items()
            )
            assert (seq in sent) == (not later)


@given(
    st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(1, 2), st.integers(0, 3)), max_size=40),
    st.integers(0, 40),
)
# A read heartbeat replaced by one answered locally, then sent: the later one is still owed.
@example([("Heartbeat", 1, 0), ("Heartbeat", 1, 0), ("MeterValues", 1, 1), ("MeterValues", 1, 0)], 1)
def test_what_is_pending_between_reads_is_what_the_next_read_finds(
    calls: list[tuple[str, int, int]], read: int
) -> None:
    """A read of the first ``read`` calls; then, before each later call is answered locally, a few
    more of the read's calls are sent upstream: the count and the oldest are always those of the
    next read from the cursor."""
    rows: list[tuple[int, datetime, Event]] = []
    for index, (action, connector, _) in enumerate(calls):
        exchanged = exchange(2 * index + 1, action, {"connectorId": connector}, {})
        rows += [(seq, T + timedelta(minutes=seq), event) for seq, _, event in exchanged]
    items = backlog(rows[: 2 * read], STATION, {})
    pending = Pending.of(items)
    done = 0

    def check(upto: int) -> None:
        cursor = items[done - 1].seq if done else 0
        expected = backlog([row for row in rows[:upto] if row[0] > cursor], STATION, {})
        assert pending.count == len(expected)
        assert pending.oldest == min((i.recorded for i in expected), default=None)

    check(2 * read)
    for index, (action, connector, sends) in enumerate(calls[read:], start=read):
        for _ in range(min(sends, len(items) - done)):
            pending.sent()
            done += 1
        seq = 2 * index + 1
        pending.add(seq, action, {"connectorId": connector}, T + timedelta(minutes=seq))
        check(2 * index + 2)


def test_a_station_heartbeating_through_an_outage_owes_one_heartbeat() -> None:
    pending = Pending()
    for minute in range(60):
        pending.add(minute, "Heartbeat", {}, T + timedelta(minutes=minute))
        pending.add(minute, "Authorize", {"idTag": "T"}, T + timedelta(minutes=minute))
    assert pending.count == 1 and pending.oldest == T + timedelta(minutes=59)
    pending.add(60, "MeterValues", {"connectorId": 1}, T + timedelta(minutes=60))
    pending.add(61, "MeterValues", {"connectorId": 1}, T + timedelta(minutes=61))
    assert pending.count == 3 and pending.oldest == T + timedelta(minutes=59)
