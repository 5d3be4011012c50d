"""A Modbus line on trio: one byte stream, one request at a time, any number of unit ids.

:class:`ModbusLine` implements :class:`actors.device_link.RegisterLink` over a trio stream: a
TCP socket (Modbus TCP, or RTU through a TCP gateway) or a serial port. Several meter and EVSE
actors share one line when their devices sit behind one gateway or on one RS-485 bus; a fair
lock serialises their requests, as the bus requires.

Failure policy: every request runs under a timeout. A timeout, a closed stream or garbled bytes
drop the stream (the next answer could not be trusted) and schedule a reconnect after a jittered
backoff that grows until a request succeeds again; until then requests fail at once with
:class:`~actors.device_link.DeviceDisconnected`, so a dead device never blocks its caller longer
than one timeout. A Modbus exception response is the device's answer and keeps the stream.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from actors.device_link import (
    DeviceDisconnected,
    DeviceExceptionResponse,
    DeviceLinkError,
    DeviceTimeout,
    RegisterFunction,
)
from adapters.modbus.backoff import Backoff
from adapters.modbus.framing import ClientFraming, Framing, GarbledFrame, Request, read_request, write_request

#: After a timeout on a kept stream, how long to wait for (and discard) the late answer.
_LATE_ANSWER_WAIT = 0.02

#: Opens the line's byte stream; raises OSError when the peer is unreachable.
Connector = Callable[[], Awaitable[trio.abc.Stream]]


def tcp_connector(host: str, port: int) -> Connector:
    """A connector for Modbus TCP or an RTU-over-TCP gateway at ``host:port``."""

    async def connect() -> trio.abc.Stream:
        return await trio.open_tcp_stream(host, port)

    return connect


@dataclass(slots=True)
class LineStats:
    """Counters the metrics layer will export per line."""

    requests: int = 0
    timeouts: int = 0
    exception_responses: int = 0
    garbled: int = 0
    disconnects: int = 0
    connects: int = 0
    failed_connects: int = 0


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request on a line and how it ended: what the raw event log records and metrics count.

    ``answer`` holds the registers read (empty for a write) or None when ``error`` is set.
    """

    request: Request
    sent: bytes
    received: bytes
    answer: tuple[int, ...] | None
    error: DeviceLinkError | None
    started: float
    elapsed: float


#: Called synchronously after every request that reached the wire; keep it cheap (append to a buffer).
Observer = Callable[[Exchange], None]


class ModbusLine:
    """A :class:`~actors.device_link.RegisterLink` over one reconnecting trio stream."""

    def __init__(
        self,
        connector: Connector,
        framing: Framing = Framing.SOCKET,
        *,
        timeout: float = 1.0,
        backoff: Backoff | None = None,
        frame_gap: float = 0.0,
        timeouts_before_drop: int | None = None,
        observer: Observer | None = None,
    ) -> None:
        """``frame_gap`` is the silence kept after each answer (3.5 characters on an RTU serial bus).

        ``timeouts_before_drop`` is how many timeouts in a row drop the stream: 1 for Modbus TCP
        (one device per stream, so silence means the stream is stuck), 3 for RTU (on a bus or
        behind a gateway, one absent unit must not take its neighbours offline). ``observer``
        sees every :class:`Exchange`.
        """
        if not timeout > 0 or not math.isfinite(timeout):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self._connector = connector
        self._framing = ClientFraming(framing)
        self._timeout = timeout
        self._backoff = backoff if backoff is not None else Backoff()
        self._frame_gap = frame_gap
        self._timeouts_before_drop = timeouts_before_drop or (1 if framing is Framing.SOCKET else 3)
        self._timeouts_in_a_row = 0
        self._observer = observer
        self._lock = trio.Lock()
        self._stream: trio.abc.Stream | None = None
        self._retry_at = -math.inf
        self.stats = LineStats()

    @property
    def connected(self) -> bool:
        """Whether the line holds an open stream right now."""
        return self._stream is not None

    async def read(self, unit: int, function: RegisterFunction, address: int, count: int) -> list[int]:
        """Read registers; see :class:`~actors.device_link.RegisterLink`."""
        return await self._exchange(read_request(unit, function, address, count))

    async def write(self, unit: int, address: int, values: list[int]) -> None:
        """Write holding registers (function 16); see :class:`~actors.device_link.RegisterLink`."""
        await self._exchange(write_request(unit, address, values))

    async def aclose(self) -> None:
        """Close the stream; a later request reconnects."""
        async with self._lock:
            await self._drop(schedule_retry=False)

    async def _exchange(self, request: Request) -> list[int]:
        async with self._lock:
            stream = await self._ensure_stream()
            frame = self._framing.send(request)
            self.stats.requests += 1
            started = trio.current_time()
            received = bytearray()
            try:
                answer = await self._transact(stream, frame, received)
            except DeviceLinkError as exc:
                self._report(
                    Exchange(request, frame, bytes(received), None, exc, started, self._since(started))
                )
                raise
            self._report(
                Exchange(request, frame, bytes(received), tuple(answer), None, started, self._since(started))
            )
            self._timeouts_in_a_row = 0
            self._backoff.reset()
            if self._frame_gap:
                await trio.sleep(self._frame_gap)
            return answer

    async def _transact(self, stream: trio.abc.Stream, frame: bytes, received: bytearray) -> list[int]:
        """Send one frame and read its answer; on any failure but an exception response, drop the stream."""
        try:
            if self._timeouts_in_a_row:
                await _drain(stream, max(self._frame_gap, _LATE_ANSWER_WAIT))
            with trio.fail_after(self._timeout):
                await stream.send_all(frame)
                answer = None
                while answer is None:
                    data = await stream.receive_some(4096)
                    if not data:
                        raise DeviceDisconnected("the device closed the connection")
                    received += data
                    answer = self._framing.receive(data)
                return answer
        except trio.Cancelled:
            # The caller gave up mid-request: the answer may still come and must not be
            # taken for the next request's.
            await self._drop(schedule_retry=False)
            raise
        except trio.TooSlowError:
            self.stats.timeouts += 1
            self._timeouts_in_a_row += 1
            self._framing.reset()
            if self._timeouts_in_a_row >= self._timeouts_before_drop:
                await self._drop()
            raise DeviceTimeout(f"no answer within {self._timeout} s") from None
        except DeviceExceptionResponse:
            self.stats.exception_responses += 1
            self._timeouts_in_a_row = 0
            raise
        except GarbledFrame as exc:
            self.stats.garbled += 1
            await self._drop()
            raise DeviceDisconnected(f"garbled answer, connection dropped: {exc}") from exc
        except DeviceDisconnected:
            await self._drop()
            raise
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            await self._drop()
            raise DeviceDisconnected(f"connection lost: {exc!r}") from exc

    @staticmethod
    def _since(started: float) -> float:
        return trio.current_time() - started

    def _report(self, exchange: Exchange) -> None:
        if self._observer is not None:
            self._observer(exchange)

    async def _ensure_stream(self) -> trio.abc.Stream:
        if self._stream is not None:
            return self._stream
        now = trio.current_time()
        if now < self._retry_at:
            raise DeviceDisconnected(f"reconnecting in {self._retry_at - now:.2f} s")
        try:
            with trio.fail_after(self._timeout):
                stream = await self._connector()
        except (OSError, trio.TooSlowError) as exc:
            self.stats.failed_connects += 1
            self._retry_at = trio.current_time() + self._backoff.next_delay()
            raise DeviceDisconnected(f"cannot connect: {exc!r}") from exc
        self.stats.connects += 1
        self._framing.reset()
        self._stream = stream
        return stream

    async def _drop(self, *, schedule_retry: bool = True) -> None:
        stream, self._stream = self._stream, None
        self._framing.reset()
        self._timeouts_in_a_row = 0
        if stream is None:
            return
        if schedule_retry:
            self.stats.disconnects += 1
            self._retry_at = trio.current_time() + self._backoff.next_delay()
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(stream)


async def _drain(stream: trio.abc.Stream, wait: float) -> None:
    """Discard whatever arrives within ``wait`` seconds: the late answer to a timed-out request."""
    with trio.move_on_after(wait):
        while await stream.receive_some(4096):
            pass
