"""The ``streamsafe`` command: ``demo``, ``chat``, ``serve`` and ``batch``.

* ``streamsafe demo`` runs the embedded emulator and shows, in about ten
  seconds and with no network or API key, a live stream, a typed in-stream
  error with its partial message, a transparent retry, and the drop-in
  ``create()`` for long requests.
* ``streamsafe chat "PROMPT"`` streams an answer from the real API (or any
  ``--base-url``) to stdout; an error becomes one line on stderr and an exit
  code that names its class (see :data:`EXIT_CODES`).
* ``streamsafe serve`` runs the emulator in the foreground: it prints its URL
  once it accepts connections, then one line per request on stderr; exit code
  10 (:data:`EXIT_PORT_IN_USE`) when the port is taken.
* ``streamsafe batch submit|wait|results|resubmit`` drives Message Batches
  (see :mod:`streamsafe._batch_cli`).

The ``demo`` needs the ``cli`` extra (rich) and ``demo``/``serve`` the
``server`` extra (uvicorn, starlette); both are imported only by the command
that needs them, so ``chat`` and ``--help`` work with the core install alone.
Without its extra, a command prints the ``pip install`` line that adds it and
exits with :data:`EXIT_MISSING_EXTRA` (9).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import re
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from ._batch_cli import add_batch_parser, run_batch
from ._client import DEFAULT_BASE_URL
from ._errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ContentTooLargeError,
    InternalServerError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
)
from ._version import __version__

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_MODEL",
    "DEFAULT_PORT",
    "EXIT_CODES",
    "EXIT_MISSING_EXTRA",
    "EXIT_PORT_IN_USE",
    "exit_code_for",
    "main",
]

#: The model ``streamsafe chat`` asks for unless ``--model`` is given.
DEFAULT_MODEL = "claude-sonnet-4-5"
DEFAULT_MAX_TOKENS = 1024
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787

EXIT_OK = 0
EXIT_OTHER = 1
EXIT_USAGE = 2
EXIT_AUTHENTICATION = 3
EXIT_PERMISSION = 4
EXIT_REQUEST = 5
EXIT_RATE_LIMIT = 6
EXIT_SERVER = 7
EXIT_CONNECTION = 8
#: ``demo`` or ``serve`` without the extra it needs (the message names the pip command).
EXIT_MISSING_EXTRA = 9
#: ``streamsafe serve``: the port is already in use.
EXIT_PORT_IN_USE = 10
EXIT_INTERRUPTED = 130

#: Error class → exit code of ``streamsafe chat``; the first matching entry wins.
EXIT_CODES: tuple[tuple[tuple[type[APIError], ...], int], ...] = (
    ((AuthenticationError,), EXIT_AUTHENTICATION),
    ((PermissionDeniedError, PaymentRequiredError), EXIT_PERMISSION),
    ((BadRequestError, NotFoundError, ContentTooLargeError), EXIT_REQUEST),
    ((RateLimitError,), EXIT_RATE_LIMIT),
    ((InternalServerError,), EXIT_SERVER),
    ((APIConnectionError,), EXIT_CONNECTION),
)

_EXIT_TABLE = f"""\
exit codes:
  {EXIT_OK:<3} the answer was streamed completely
  {EXIT_OTHER:<3} any other error (e.g. a malformed stream, an unknown error status)
  {EXIT_USAGE:<3} usage error (bad arguments)
  {EXIT_AUTHENTICATION:<3} AuthenticationError (401), or no API key for the public API
  {EXIT_PERMISSION:<3} PermissionDeniedError (403), PaymentRequiredError / BillingError (402)
  {EXIT_REQUEST:<3} BadRequestError (400), NotFoundError (404), ContentTooLargeError (413)
  {EXIT_RATE_LIMIT:<3} RateLimitError (429)
  {EXIT_SERVER:<3} OverloadedError (529), GatewayTimeoutError (504), InternalServerError (5xx)
  {EXIT_CONNECTION:<3} APIConnectionError, APITimeoutError, IncompleteStreamError
  {EXIT_MISSING_EXTRA:<3} (streamsafe demo, serve) the extra the command needs is not installed
  {EXIT_PORT_IN_USE:<3} (streamsafe serve) the port is already in use
  {EXIT_INTERRUPTED:<3} interrupted (Ctrl-C)

Errors are printed to stderr as one line: the exception type, its message and
the request id. Retryable errors are retried (twice) before they are reported,
as long as no text of the answer has been printed yet.

environment:
  ANTHROPIC_API_KEY   the API key (required for the public API)
  ANTHROPIC_BASE_URL  the API's base URL (default {DEFAULT_BASE_URL})
"""


def exit_code_for(error: BaseException) -> int:
    """The exit code of ``streamsafe chat`` for an error (see :data:`EXIT_CODES`)."""
    for classes, code in EXIT_CODES:
        if isinstance(error, classes):
            return code
    return EXIT_OTHER


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``streamsafe`` command."""
    parser = argparse.ArgumentParser(
        prog="streamsafe",
        description=(
            "Lossless streaming for Messages-style LLM APIs:\n"
            "typed in-stream errors, retries before content, TCP keep-alive."
        ),
        epilog=(
            "Start with `streamsafe demo`: it needs no network and no API key.\n"
            "Run `streamsafe COMMAND --help` for the options of a command."
        ),
        formatter_class=_formatter,
    )
    parser.add_argument("--version", action="version", version=f"streamsafe {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="watch streamsafe stream, fail, retry and recover against the embedded emulator",
        description=(
            "Start the embedded Messages API emulator and show, in about ten seconds:\n"
            "  1. a message streaming live, with tokens/s and the request id;\n"
            "  2. a stream failing mid-way with overloaded_error -> OverloadedError,\n"
            "     the partial text kept on .partial_message;\n"
            "  3. a stream failing before any content, retried transparently;\n"
            "  4. the drop-in messages.create() returning a long message.\n"
            "No network and no API key needed. Needs the extras: pip install 'streamsafe[cli]'\n"
            f"(without them: a message saying so, exit code {EXIT_MISSING_EXTRA})."
        ),
        formatter_class=_formatter,
    )
    demo.add_argument(
        "--delay",
        type=_seconds,
        default=0.035,
        metavar="SECONDS",
        help="pause between the events of the live stream (default: %(default)s)",
    )

    chat = commands.add_parser(
        "chat",
        help="stream an answer to a prompt to stdout",
        description=(
            "Send PROMPT to the Messages API and stream the answer's text to stdout.\n"
            "Uses ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL, or --base-url."
        ),
        epilog=_EXIT_TABLE,
        formatter_class=_formatter,
    )
    chat.add_argument("prompt", metavar="PROMPT", help="the user message ('-' reads stdin)")
    chat.add_argument(
        "--model", "-m", default=DEFAULT_MODEL, help="the model (default: %(default)s)"
    )
    chat.add_argument(
        "--max-tokens",
        type=_positive_int,
        default=DEFAULT_MAX_TOKENS,
        metavar="N",
        help="the most tokens to generate (default: %(default)s)",
    )
    chat.add_argument("--system", "-s", metavar="S", help="a system prompt")
    chat.add_argument(
        "--base-url",
        type=_http_url,
        metavar="URL",
        help=f"the API's base URL (default: $ANTHROPIC_BASE_URL, else {DEFAULT_BASE_URL})",
    )

    serve = commands.add_parser(
        "serve",
        help="run the Messages API emulator in the foreground",
        description=(
            "Run the embedded Messages API emulator until Ctrl-C. Point any client at it:\n"
            "  ANTHROPIC_BASE_URL=http://127.0.0.1:8787 ANTHROPIC_API_KEY=test ...\n"
            "The first line on stderr is its URL (printed once it accepts connections),\n"
            "then one line per request: method path status request-id fault duration.\n"
            "Faults: per request with the x-streamsafe-fault header, e.g.\n"
            "  'x-streamsafe-fault: status:529;times=2' (the first two such requests fail),\n"
            "queued with --fault, or over HTTP: POST /_emulator/faults\n"
            '  {"spec": ..., "times": N}, GET /_emulator/requests, POST /_emulator/reset\n'
            "(see streamsafe.testing).\n"
            f"Exit code {EXIT_PORT_IN_USE} when the port is already in use.\n"
            "Needs the extra: pip install 'streamsafe[server]'\n"
            f"(without it: a message saying so, exit code {EXIT_MISSING_EXTRA})."
        ),
        formatter_class=_formatter,
    )
    serve.add_argument(
        "--host", default=DEFAULT_HOST, help="the interface to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help="the TCP port to listen on; 0 picks a free one (default: %(default)s)",
    )
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="queue a fault for the next request to /v1/messages (repeatable: in order; "
        "'SPEC;times=N' queues it N times)",
    )
    serve.add_argument(
        "--delay-ms",
        type=_milliseconds,
        default=0.0,
        metavar="MS",
        help="pause between the events of a stream, e.g. 30 (default: %(default)g)",
    )
    serve.add_argument(
        "--ping-interval",
        type=_positive_seconds,
        metavar="SECONDS",
        help="send a ping event this often while streaming (default: only the first)",
    )
    serve.add_argument(
        "--seed", metavar="S", help="make request and message ids repeat across runs"
    )
    add_batch_parser(commands, _formatter)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 10:
        raise argparse.ArgumentTypeError(f"must be between 0 and 10 seconds: {value:g}")
    return value


def _milliseconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 60_000:
        raise argparse.ArgumentTypeError(f"must be between 0 and 60000 ms: {value:g}")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 3600 seconds: {value:g}")
    return value


def _http_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"not an http:// or https:// URL: {text!r}")
    return text


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``streamsafe`` command; returns the process exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        if args.command == "demo":
            return _run_demo(args.delay)
        if args.command == "chat":
            return _run_chat(args)
        if args.command == "serve":
            return _run_serve(args)
        if args.command == "batch":
            return run_batch(args, exit_code_for)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    parser.print_help()
    return EXIT_USAGE


def _missing_extra(what: str, extra: str, exc: ImportError) -> int:
    missing = f" ({exc.name} is not installed)" if exc.name else ""
    print(
        f"streamsafe: {what} needs the {extra!r} extra{missing}; "
        f"install it with: pip install 'streamsafe[{extra}]'",
        file=sys.stderr,
    )
    return EXIT_MISSING_EXTRA


# ---------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------


def _run_demo(delay: float) -> int:
    try:
        import rich  # noqa: F401
    except ImportError as exc:
        return _missing_extra("streamsafe demo", "cli", exc)
    try:
        from . import _demo
    except ImportError as exc:
        return _missing_extra("streamsafe demo", "server", exc)
    return _demo.run(live_delay=delay)


# ---------------------------------------------------------------------------
# chat
# ---------------------------------------------------------------------------


def _run_chat(args: argparse.Namespace) -> int:
    from ._sync.client import Client

    prompt: str = sys.stdin.read() if args.prompt == "-" else args.prompt
    base_url: str | None = args.base_url or os.environ.get("ANTHROPIC_BASE_URL") or None
    api_key = os.environ.get("ANTHROPIC_API_KEY") or None
    if api_key is None and base_url is None:
        print(
            "streamsafe chat: no API key. Set ANTHROPIC_API_KEY "
            f"(the public API at {DEFAULT_BASE_URL} needs one), "
            "or point --base-url at a server that does not.",
            file=sys.stderr,
        )
        return EXIT_AUTHENTICATION

    params: dict[str, Any] = {
        "model": args.model,
        "max_tokens": args.max_tokens,
        "messages": [{"role": "user", "content": prompt}],
    }
    if args.system:
        params["system"] = args.system

    out = _StdoutTracker(sys.stdout)
    try:
        with (
            Client(api_key=api_key, base_url=base_url) as client,
            client.messages.stream(**params) as stream,
        ):
            for text in stream.text_stream:
                out.write(text)
    except APIError as error:
        out.end_line()
        print(_one_line(error), file=sys.stderr)
        return exit_code_for(error)
    except KeyboardInterrupt:
        out.end_line()
        raise
    out.end_line()
    return EXIT_OK


class _StdoutTracker:
    """Writes streamed text and remembers whether the last line is unfinished."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._open_line = False

    def write(self, text: str) -> None:
        if not text:
            return
        self._stream.write(text)
        self._stream.flush()
        self._open_line = not text.endswith("\n")

    def end_line(self) -> None:
        """Finish a partly written line, so an error on stderr starts on its own."""
        if self._open_line:
            self._stream.write("\n")
            self._stream.flush()
            self._open_line = False


def _one_line(error: APIError) -> str:
    """``streamsafe: OverloadedError: Overloaded (HTTP 529, in stream, request_id=...)``."""
    details: list[str] = []
    status_code = getattr(error, "status_code", None)
    if isinstance(status_code, int):
        details.append(f"status {status_code}")
    if getattr(error, "in_stream", False):
        details.append("in stream")
    details.append(f"request_id={error.request_id or 'unknown'}")
    partial = error.partial_message
    if partial is not None and partial.text:
        details.append(f"{len(partial.text)} characters received before the error")
    message = _without_python_pointers(" ".join(error.message.split())) or "no message"
    return f"streamsafe: {type(error).__name__}: {message} ({', '.join(details)})"


#: A clause of an error message that points Python code at an attribute
#: ("; the partial message is on .partial_message"): meaningless on a command line.
_PYTHON_POINTER = re.compile(r";[^;]*(?<![\w.])\.[a-z_]*[a-z]\b[^;]*")


def _without_python_pointers(message: str) -> str:
    """``message`` without its clauses that name a Python attribute (the line says it in words)."""
    return _PYTHON_POINTER.sub("", message).strip()


# ---------------------------------------------------------------------------
# serve
# ---------------------------------------------------------------------------


def _run_serve(args: argparse.Namespace) -> int:
    try:
        from .testing import Fault, serve
        from .testing._emulator import bind
    except ImportError as exc:
        return _missing_extra("streamsafe serve", "server", exc)
    host: str = args.host
    port: int = args.port
    try:
        faults = [Fault.parse(spec) for spec in args.fault]
    except ValueError as exc:
        print(f"streamsafe serve: invalid --fault: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        sock = bind(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(
                f"streamsafe serve: port {port} on {host} is already in use "
                "(choose another with --port, or --port 0 for a free one)",
                file=sys.stderr,
            )
            return EXIT_PORT_IN_USE
        reason = exc.strerror or str(exc)
        print(f"streamsafe serve: cannot listen on {host} port {port}: {reason}", file=sys.stderr)
        return EXIT_OTHER

    def banner(url: str) -> None:
        print(
            f"streamsafe emulator on {url} (Ctrl-C to stop)\n"
            f"  ANTHROPIC_BASE_URL={url} ANTHROPIC_API_KEY=test "
            'streamsafe chat "hello"',
            file=sys.stderr,
            flush=True,
        )

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the way to stop it
        serve(
            event_delay=args.delay_ms / 1000,
            ping_interval=args.ping_interval,
            faults=faults,
            seed=args.seed,
            log=log,
            sock=sock,
            on_ready=banner,
        )
    return EXIT_OK
