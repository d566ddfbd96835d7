"""TCP keep-alive socket options under each platform's own names.

A streamed response can sit silent for minutes while a model thinks; NAT boxes
and load balancers drop idle flows without telling either end, and the client
then waits for bytes that never come. Keep-alive probes keep such paths open
and detect a dead peer. :func:`keepalive_socket_options` builds the
``(level, option, value)`` triples (``SO_KEEPALIVE`` plus the idle, interval
and count knobs: Linux ``TCP_KEEPIDLE``, macOS ``TCP_KEEPALIVE``, ...) with
the values checked against the kernels' bounds; :func:`transport_socket_options`
adds a caller's own options; :func:`enables_keepalive` tells whether a list of
options turns keep-alive on with this platform's timers set.
"""

from __future__ import annotations

import math
import socket
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ._defaults import DEFAULT_KEEPALIVE_COUNT, DEFAULT_KEEPALIVE_IDLE, DEFAULT_KEEPALIVE_INTERVAL

__all__ = [
    "SocketOption",
    "enables_keepalive",
    "keepalive_socket_options",
    "transport_socket_options",
]

SocketOption = tuple[int, int, int]
"""One ``setsockopt(level, option, value)`` triple, as httpx's ``socket_options=`` takes it."""

# The tightest bounds among supported kernels (Linux: MAX_TCP_KEEPIDLE and
# MAX_TCP_KEEPINTVL are 32767 s, MAX_TCP_KEEPCNT is 127). Checking them here
# turns a bad value into one clear error instead of a failed setsockopt on
# every connection.
_MAX_KEEPALIVE_SECONDS: Final = 32767
_MAX_KEEPALIVE_COUNT: Final = 127


@dataclass(frozen=True)
class _PlatformKeepalive:
    """Where one platform keeps its keep-alive knobs.

    Each TCP-level knob is ``(name in the socket module, numeric value)``. The
    numbers describe the platform when it is not the running one (so the table
    can be tested anywhere), and fill in a constant the running Python lacks
    when ``numeric_fallback`` says the kernel is known to have it.
    """

    sol_socket: int
    so_keepalive: int
    ipproto_tcp: int
    idle: tuple[str, int]
    interval: tuple[str, int]
    count: tuple[str, int]
    numeric_fallback: bool


_PLATFORMS: Final[Mapping[str, _PlatformKeepalive]] = {
    # <netinet/tcp.h>; present since Linux 2.4.
    "linux": _PlatformKeepalive(
        sol_socket=1,
        so_keepalive=9,
        ipproto_tcp=6,
        idle=("TCP_KEEPIDLE", 4),
        interval=("TCP_KEEPINTVL", 5),
        count=("TCP_KEEPCNT", 6),
        numeric_fallback=True,
    ),
    # macOS names the idle time TCP_KEEPALIVE (0x10); Python exposes the
    # constant since 3.10 only. Without it the first probe waits two hours.
    "darwin": _PlatformKeepalive(
        sol_socket=0xFFFF,
        so_keepalive=0x0008,
        ipproto_tcp=6,
        idle=("TCP_KEEPALIVE", 0x10),
        interval=("TCP_KEEPINTVL", 0x101),
        count=("TCP_KEEPCNT", 0x102),
        numeric_fallback=True,
    ),
    # Windows 10 1709+ accepts these as socket options (older releases only
    # have the SIO_KEEPALIVE_VALS ioctl, which httpx cannot apply). CPython
    # deletes the constants at import time on releases that reject them, so on
    # the running system only the names that exist are used: no numbers.
    "win32": _PlatformKeepalive(
        sol_socket=0xFFFF,
        so_keepalive=0x0008,
        ipproto_tcp=6,
        idle=("TCP_KEEPIDLE", 3),
        interval=("TCP_KEEPINTVL", 17),
        count=("TCP_KEEPCNT", 16),
        numeric_fallback=False,
    ),
}

# Any other running platform (FreeBSD, ...): whichever of these names exist.
_GENERIC_NAMES: Final = ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT")


def _platform_family(platform: str) -> str:
    return "linux" if platform.startswith("linux") else platform


def _whole_seconds(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    seconds = max(1, math.ceil(value))
    if seconds > _MAX_KEEPALIVE_SECONDS:
        raise ValueError(f"{name} must be at most {_MAX_KEEPALIVE_SECONDS} seconds, got {value!r}")
    return seconds


def _probe_count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"count must be a positive integer, got {value!r}")
    if not 1 <= value <= _MAX_KEEPALIVE_COUNT:
        raise ValueError(f"count must be between 1 and {_MAX_KEEPALIVE_COUNT}, got {value!r}")
    return value


def keepalive_socket_options(
    idle: float = DEFAULT_KEEPALIVE_IDLE,
    interval: float = DEFAULT_KEEPALIVE_INTERVAL,
    count: int = DEFAULT_KEEPALIVE_COUNT,
    platform: str = sys.platform,
) -> list[SocketOption]:
    """Return the ``(level, option, value)`` triples that turn on TCP keep-alive.

    The result always starts with ``SO_KEEPALIVE = 1``, followed by the idle
    time, probe interval and probe count under the platform's own names:

    * Linux: ``TCP_KEEPIDLE``, ``TCP_KEEPINTVL``, ``TCP_KEEPCNT``.
    * macOS: ``TCP_KEEPALIVE`` (the idle time; ``0x10`` when the running
      Python lacks the constant), ``TCP_KEEPINTVL``, ``TCP_KEEPCNT``.
    * Windows: ``TCP_KEEPIDLE``, ``TCP_KEEPINTVL``, ``TCP_KEEPCNT`` where the
      running Windows has them (10 1709 and later); ``SIO_KEEPALIVE_VALS`` is
      an ioctl, not a socket option, and is not used.
    * Other platforms: whichever of the Linux names the socket module has.

    Args:
        idle: Seconds of silence before the first probe (default 60).
        interval: Seconds between unanswered probes (default 10).
        count: Unanswered probes before the connection is declared dead
            (default 5). With the defaults a dead peer is detected about
            ``60 + 10 * 5 = 110`` seconds after the last byte.
        platform: A ``sys.platform`` value. For the running platform the
            socket module's constants are used; for any other of ``linux``,
            ``darwin`` and ``win32`` that platform's numeric values (useful to
            inspect or test what another platform gets).

    Times are rounded up to whole seconds, the kernels' unit.

    Raises:
        ValueError: ``idle`` or ``interval`` is not a positive number of at
            most 32767 seconds, ``count`` is not an integer in 1..127, or
            ``platform`` is neither the running platform nor a known one.
    """
    idle_s = _whole_seconds("idle", idle)
    interval_s = _whole_seconds("interval", interval)
    probes = _probe_count(count)

    family = _platform_family(platform)
    table = _PLATFORMS.get(family)
    running = family == _platform_family(sys.platform)

    if running:
        sol_socket, so_keepalive, ipproto_tcp = (
            socket.SOL_SOCKET,
            socket.SO_KEEPALIVE,
            socket.IPPROTO_TCP,
        )
    elif table is not None:
        sol_socket, so_keepalive, ipproto_tcp = (
            table.sol_socket,
            table.so_keepalive,
            table.ipproto_tcp,
        )
    else:
        known = ", ".join(sorted(_PLATFORMS))
        raise ValueError(
            f"no keep-alive option table for platform {platform!r} "
            f"(known: {known}; or the running platform {sys.platform!r})"
        )

    options: list[SocketOption] = [(sol_socket, so_keepalive, 1)]
    if table is None:
        knobs: list[tuple[str, int | None]] = [(name, None) for name in _GENERIC_NAMES]
    else:
        knobs = [table.idle, table.interval, table.count]
    for (name, number), value in zip(knobs, (idle_s, interval_s, probes), strict=True):
        if running:
            constant = getattr(socket, name, None)
            if constant is None and table is not None and table.numeric_fallback:
                constant = number
        else:
            constant = number
        if constant is not None:
            options.append((ipproto_tcp, int(constant), value))
    return options


def transport_socket_options(
    idle: float,
    interval: float,
    count: int,
    extra: Iterable[Any] | None = None,
    uds: str | None = None,
) -> list[Any]:
    """The options a transport applies to every socket: keep-alive, then ``extra``.

    The keep-alive values are validated in any case. A Unix socket (``uds``)
    has no TCP path to keep alive, and setting TCP options on it fails
    (EOPNOTSUPP): only ``extra`` applies there. ``extra`` comes last, so a
    caller's own value for the same option wins.
    """
    options: list[Any] = list(keepalive_socket_options(idle, interval, count))
    if uds is not None:
        options = []
    if extra is not None:
        options.extend(extra)
    return options


def enables_keepalive(options: Iterable[Any]) -> bool:
    """Whether socket options turn keep-alive on with this platform's timers set."""
    given: dict[tuple[int, int], object] = {}
    for option in options:
        if isinstance(option, tuple) and len(option) == 3:
            given[(option[0], option[1])] = option[2]
    wanted = keepalive_socket_options()
    switch = given.get((wanted[0][0], wanted[0][1]))
    if not isinstance(switch, int) or switch == 0:
        return False
    return all((level, name) in given for level, name, _ in wanted[1:])
