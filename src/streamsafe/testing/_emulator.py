"""The emulator's lifecycle: uvicorn in a background thread, or in the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from types import TracebackType

import anyio.to_thread
import uvicorn

from ._faults import Fault, RawResponse
from ._server import build_app
from ._state import EmulatorState, RecordedRequest

__all__ = ["Emulator", "bind", "serve"]

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0
_THREAD_PREFIX = "streamsafe-emulator"


class _QuietEmulatorLogs(logging.Filter):
    """Drops uvicorn's access and info records when they come from an emulator thread.

    Passing ``log_level``/``access_log=False`` to uvicorn would change the
    global ``uvicorn.*`` loggers (it clears the access logger's handlers),
    silencing a uvicorn the user runs in the same process. This filter only
    touches the emulator's own records: warnings and errors still show.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not (record.threadName or "").startswith(_THREAD_PREFIX):
            return True
        return record.name != "uvicorn.access" and record.levelno >= logging.WARNING


_LOG_FILTER = _QuietEmulatorLogs()


def _install_log_filter() -> None:
    for name in ("uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        if _LOG_FILTER not in logger.filters:
            logger.addFilter(_LOG_FILTER)


def _check_delay(value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"event_delay must be a non-negative number, got {value!r}")
    return value


def _check_interval(value: float | None) -> float | None:
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise ValueError(f"ping_interval must be a positive number or None, got {value!r}")
    return value


#: Seconds an idle keep-alive connection stays open on the emulator's side:
#: longer than any client's idle expiry (httpx's 5 s), as on the real API, so a
#: client never reuses a connection the server is closing at that very moment
#: (uvicorn's own default, 5 s, races httpx's on a busy machine).
KEEP_ALIVE_SECONDS = 75


def _config(app: object, **options: object) -> uvicorn.Config:
    options.setdefault("timeout_keep_alive", KEEP_ALIVE_SECONDS)
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        lifespan="off",
        http="h11",
        ws="none",
        server_header=False,
        **options,  # type: ignore[arg-type]
    )


class _ThreadServer(uvicorn.Server):
    """A uvicorn server whose main loop waits for :meth:`wake` instead of polling.

    uvicorn checks ``should_exit`` every 0.1 s; waking it directly makes
    :meth:`Emulator.stop` faster, which a function-scoped fixture pays per test.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._wakeup: asyncio.Event | None = None

    def wake(self) -> None:
        """In the server's loop: re-check ``should_exit`` now."""
        if self._wakeup is not None:
            self._wakeup.set()

    async def main_loop(self) -> None:
        self._wakeup = asyncio.Event()
        counter = 0
        # on_tick refreshes the Date header when counter % 10 == 0; call it once a second.
        while not await self.on_tick(counter):
            counter += 10
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), 1.0)


class Emulator:
    """A Messages API server on loopback, running in a background thread.

    Use it as a context manager, sync (``with Emulator() as emu``) or async
    (``async with Emulator() as emu``, on asyncio or trio), or call
    :meth:`start` and :meth:`stop`. See :mod:`streamsafe.testing` for the
    endpoints and the fault grammar.
    """

    def __init__(
        self,
        event_delay: float = 0.0,
        ping_interval: float | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        aws_request_ids: bool = False,
        seed: int | str | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self._state = EmulatorState(
            _check_delay(event_delay), _check_interval(ping_interval), seed=seed
        )
        self._state.log = log
        self._state.aws_request_ids = aws_request_ids
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._lifecycle = threading.Lock()
        self._thread: threading.Thread | None = None
        self._server: _ThreadServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None

    # -- settings -------------------------------------------------------------------

    @property
    def event_delay(self) -> float:
        """Seconds between two events of a stream (header ``x-streamsafe-delay-ms`` overrides)."""
        return self._state.event_delay

    @event_delay.setter
    def event_delay(self, value: float) -> None:
        self._state.event_delay = _check_delay(value)

    @property
    def ping_interval(self) -> float | None:
        """Seconds between periodic ``ping`` events while streaming (None: only the first)."""
        return self._state.ping_interval

    @ping_interval.setter
    def ping_interval(self, value: float | None) -> None:
        self._state.ping_interval = _check_interval(value)

    @property
    def aws_request_ids(self) -> bool:
        """Whether every response carries ``x-amzn-requestid`` (as Claude Platform on AWS)."""
        return self._state.aws_request_ids

    @aws_request_ids.setter
    def aws_request_ids(self, value: bool) -> None:
        self._state.aws_request_ids = bool(value)

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The bound port (known once started)."""
        if self._port is None:
            raise RuntimeError("the emulator is not running")
        return self._port

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None

    # -- scripting ------------------------------------------------------------------

    def push_fault(self, spec: str | Fault, times: int | None = None) -> Fault:
        """Apply a fault to the next ``times`` requests to ``/v1/messages`` (FIFO queue).

        ``times`` defaults to the spec's ``times=`` option, else 1. Returns the
        parsed fault (without ``times``). A request carrying an
        ``x-streamsafe-fault`` header uses that instead and leaves the queue alone.
        """
        fault = spec if isinstance(spec, Fault) else Fault.parse(spec)
        count = (fault.times or 1) if times is None else times
        if count < 0:
            raise ValueError("times must not be negative")
        fault = fault.without_counter()
        self._state.push_faults([fault] * count)
        return fault

    def push_raw_stream(
        self,
        body: bytes,
        content_type: str | None = "text/event-stream",
        status: int = 200,
        headers: dict[str, str] | Iterable[tuple[str, str]] | None = None,
        chunk_size: int | None = None,
        chunk_delay: float = 0.0,
    ) -> Fault:
        """Serve ``body`` verbatim to the next request to ``/v1/messages``.

        The body is sent in ``chunk_size`` pieces (one piece when None), with
        ``chunk_delay`` seconds between them. ``content_type`` None sends no
        content-type header. A ``request-id`` header is added unless ``headers``
        has one. Queued in the same FIFO as :meth:`push_fault`.
        """
        pairs = (
            tuple((headers or {}).items()) if isinstance(headers, dict | None) else tuple(headers)
        )
        raw = RawResponse(
            body=bytes(body),
            content_type=content_type,
            status=status,
            headers=tuple((str(name), str(value)) for name, value in pairs),
            chunk_size=chunk_size,
            chunk_delay=chunk_delay,
        )
        fault = Fault("raw", raw=raw)
        self._state.push_faults([fault])
        return fault

    @property
    def pending_faults(self) -> list[Fault]:
        """The faults still queued."""
        return self._state.pending_faults()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a snapshot)."""
        return self._state.requests()

    def clear(self) -> None:
        """Forget the recorded requests, drop the queued faults, reset ``times=`` counters."""
        self._state.clear()

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Bind the port and start serving; returns once the server accepts connections."""
        with self._lifecycle:
            if self._thread is not None:
                raise RuntimeError("the emulator is already running")
            sock = self._bind()
            servers: list[_ThreadServer] = []
            app = build_app(
                self._state,
                lambda: servers[0].server_state.connections if servers else (),
            )
            # No logging options: see _QuietEmulatorLogs.
            _install_log_filter()
            server = _ThreadServer(_config(app, log_config=None, log_level=None))
            servers.append(server)
            ready = threading.Event()
            self._error = None
            self._port = sock.getsockname()[1]
            thread = threading.Thread(
                target=self._run,
                args=(server, sock, ready),
                name=f"{_THREAD_PREFIX}-{self._port}",
                daemon=True,
            )
            thread.start()
            ready.wait(_START_TIMEOUT)
            if not server.started or self._error is not None:
                server.should_exit = True
                thread.join(_STOP_TIMEOUT)
                sock.close()
                self._port = None
                raise RuntimeError("the streamsafe emulator failed to start") from self._error
            self._thread = thread
            self._server = server

    def stop(self) -> None:
        """Stop serving: open connections are aborted, the thread is joined."""
        with self._lifecycle:
            thread, server, loop = self._thread, self._server, self._loop
            if thread is None or server is None:
                return
            if loop is not None:
                with contextlib.suppress(RuntimeError):  # the loop is already closed
                    loop.call_soon_threadsafe(_begin_shutdown, server)
            thread.join(_STOP_TIMEOUT)
            self._thread = self._server = self._loop = None
            self._port = None
            if thread.is_alive():  # pragma: no cover - only if uvicorn hangs
                raise RuntimeError("the streamsafe emulator did not stop in time")

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Emulator:
        await anyio.to_thread.run_sync(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await anyio.to_thread.run_sync(self.stop)

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "stopped"
        return f"<Emulator {where}>"

    # -- internals -----------------------------------------------------------------------

    def _bind(self) -> socket.socket:
        return bind(self._host, self._requested_port)

    def _run(self, server: _ThreadServer, sock: socket.socket, ready: threading.Event) -> None:
        try:
            asyncio.run(self._serve(server, sock, ready))
        except BaseException as exc:  # uvicorn exits with SystemExit on startup failure
            self._error = exc
        finally:
            ready.set()

    async def _serve(
        self, server: _ThreadServer, sock: socket.socket, ready: threading.Event
    ) -> None:
        self._loop = asyncio.get_running_loop()
        task = asyncio.create_task(server.serve(sockets=[sock]))
        # uvicorn offers no "started" event to wait on.
        while not server.started and not task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.001)
        ready.set()
        await task


def _begin_shutdown(server: _ThreadServer) -> None:
    """In the server's loop: stop, and abort every open connection at once."""
    server.should_exit = True
    for connection in list(server.server_state.connections):
        transport = getattr(connection, "transport", None)
        if isinstance(transport, asyncio.WriteTransport):
            transport.abort()
    server.wake()


class _ForegroundServer(uvicorn.Server):
    """Calls ``on_ready`` once the server accepts connections."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self._on_ready is not None:
            self._on_ready()


def bind(host: str = "127.0.0.1", port: int = 8787) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one).

    Raises OSError as the OS reports it: ``errno.EADDRINUSE`` when the port is taken.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so
    # (accepted sockets inherit it); without it Nagle adds ~40 ms per response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if sys.platform != "win32":
            # Lets a restarted server reuse a port in TIME_WAIT; on Linux and
            # macOS it never allows binding a port another socket listens on.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def serve(
    host: str = "127.0.0.1",
    port: int = 8787,
    *,
    event_delay: float = 0.0,
    ping_interval: float | None = None,
    faults: Iterable[str | Fault] = (),
    seed: int | str | None = None,
    log: Callable[[str], None] | None = None,
    sock: socket.socket | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run the emulator in the foreground until interrupted (Ctrl+C).

    Faults are chosen per request with the ``x-streamsafe-fault`` header, or
    taken from a queue that ``faults`` fills (one per request to
    ``/v1/messages``, a spec's ``times=N`` queues it N times) and the admin
    endpoint ``POST /_emulator/faults`` extends. ``log`` receives one line per
    request (:meth:`RecordedRequest.log_line`). The socket is bound first
    (``sock``, or :func:`bind` with ``host`` and ``port``: OSError when that
    fails); ``on_ready`` then receives the URL once connections are accepted.
    """
    state = EmulatorState(_check_delay(event_delay), _check_interval(ping_interval), seed=seed)
    for spec in faults:
        fault = spec if isinstance(spec, Fault) else Fault.parse(spec)
        state.push_faults([fault.without_counter()] * (fault.times or 1))
    state.log = log
    listener = sock if sock is not None else bind(host, port)
    bound_host, bound_port = listener.getsockname()[:2]
    shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    url = f"http://{shown_host}:{bound_port}"
    servers: list[uvicorn.Server] = []
    app = build_app(state, lambda: servers[0].server_state.connections if servers else ())
    server = _ForegroundServer(
        _config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=1),
        (lambda: on_ready(url)) if on_ready is not None else None,
    )
    servers.append(server)
    # uvicorn shuts down gracefully on Ctrl+C, then re-raises the signal.
    try:
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[listener])
    finally:
        listener.close()
