"""Embedded Messages API emulator: a real HTTP server on loopback, with scripted faults.

The emulator is an independent server (Starlette app, uvicorn, a background
thread) that speaks the Anthropic Messages API wire format. It never imports
streamsafe's client code, so it can test it::

    from streamsafe.testing import Emulator

    with Emulator() as emu:                  # or: async with Emulator() as emu
        emu.push_fault("error:overloaded_error@0")   # the next request fails...
        ...                                          # ...a retry gets a clean stream
        base_url = emu.url                   # "http://127.0.0.1:PORT"

``Emulator(event_delay=0.0, ping_interval=None, port=0, host="127.0.0.1", aws_request_ids=False,
seed=None, log=None)``
    ``event_delay``: seconds between stream events (a request overrides it with
    the header ``x-streamsafe-delay-ms``). ``ping_interval``: seconds between
    extra ``ping`` events while streaming (None: only the ping after
    message_start). ``port=0`` picks a free port. ``aws_request_ids``: see
    *Scenarios* (also a settable attribute). ``seed``: see *Ids*. ``log``: a
    callable given one line per request once its response is over (see
    ``RecordedRequest.log_line``), called from the server thread.
``emu.push_fault(spec, times=None)``
    Queue a fault for the next ``times`` requests to ``POST /v1/messages``
    (default: the spec's ``times=`` option, else 1).
``emu.push_raw_stream(body, content_type="text/event-stream", status=200, headers=None,
chunk_size=None, chunk_delay=0.0)``
    Serve arbitrary bytes to the next request (same FIFO queue), in
    ``chunk_size`` pieces ``chunk_delay`` seconds apart.
``emu.requests`` / ``emu.pending_faults`` / ``emu.clear()``
    The recorded requests (:class:`RecordedRequest`: method, path, headers,
    body, ``fault``, ``request_id``, ``status`` set before the response's
    headers go out, ``duration_ms`` set before its last byte, cut or reset;
    ``log_line()``, ``to_json()``), the queued faults; ``clear()`` resets
    both and the ``times=`` counters.
``serve(host="127.0.0.1", port=8787, *, event_delay=0.0, ping_interval=None, faults=(),
seed=None, log=None, sock=None, on_ready=None)``
    Run in the foreground until Ctrl+C (for ``streamsafe serve``). The socket
    is bound first (an ``OSError`` with ``errno.EADDRINUSE`` when the port is
    taken); ``on_ready(url)`` is called once connections are accepted.
    ``faults`` fills the queue.

Endpoints
---------
``POST /v1/messages``: ``"stream": true`` answers ``text/event-stream``
(``message_start``, ``ping``, content blocks, ``message_delta``,
``message_stop``), otherwise a JSON Message. The content is deterministic,
seeded from the last user message: a thinking block first when
``thinking.type`` is ``enabled``; with ``tools``, a short text then one or two
``tool_use`` blocks whose input follows the tool's ``input_schema``
(stop_reason ``tool_use``; a last user message holding ``tool_result``
blocks gets a text answer instead); otherwise text of about 3/4 of
``max_tokens`` words (at most 4096, at least 24: a smaller ``max_tokens`` cuts it,
stop_reason ``max_tokens``). A stream and a non-streamed answer to the same
body carry the same content; ids differ. ``input_tokens`` is the body size / 4.
``stop_sequences``, ``fallbacks``, ``context_management`` and eager tools:
see *Scenarios*. Beta headers are not checked.
``POST /v1/messages/count_tokens``: ``{"input_tokens": N}``.
``/v1/messages/batches`` (create, list, retrieve, cancel, delete, results):
the Message Batches API with a fast clock, per-item outcomes by ``custom_id``
prefix (``errored-<type>-``, ``expired-``, ``canceled-``), faults on polls
and cut result downloads scripted by the ``x-streamsafe-batch`` header
(:data:`BATCH_HEADER`) of the create request; see
:mod:`streamsafe.testing._batches`.
Every response carries a ``request-id`` header (``req_…``); error bodies carry
it as ``request_id`` too. Ids: ``req_`` and ``msg_`` ids are unique per
emulator instance, so they differ across runs and across emulators side by
side; with ``Emulator(seed=...)`` (``streamsafe serve --seed``) they repeat
from run to run. The content never depends on them (``tool_use`` ids, part of
the content, are derived from the request). A body over 32 MiB gets ``413 request_too_large``
(the body is counted, not kept). Invalid bodies get ``400
invalid_request_error``; unknown paths a JSON ``404 not_found_error``.

Scenarios
---------
Every scenario answers streamed and non-streamed with the same content.

Fine-grained tool streaming cut by max_tokens
    When the tool calls do not fit in ``max_tokens`` and the call that
    overflows is to a tool with ``"eager_input_streaming": true``, that
    ``tool_use`` block is cut instead of the answer turning into text: its
    ``input_json_delta`` fragments stop inside a string value (never inside an
    escape), after about ``4 * tokens left`` characters of JSON, e.g.
    ``{"path": "Yet over th``; then content_block_stop, ``stop_reason
    max_tokens`` (``output_tokens = max_tokens``), message_stop. Recipe: one
    eager tool, ``tool_choice {"type": "tool", ...}`` (no text before the call)
    and a small ``max_tokens`` (3: inside the first value). The docs say
    nothing of the non-streamed case: there ``input`` holds the complete
    top-level key/value pairs received (``{}`` when the first value is cut).
    A buffered tool (no ``eager_input_streaming``) still gets a cut text.
``stop_sequences``
    The planned text does not depend on ``stop_sequences``: the text stops right
    before the earliest match of any of them (``stop_reason stop_sequence``,
    ``stop_sequence`` = the string; text blocks only, later blocks dropped).
    Recipe: fetch the answer once without, pick a substring of its text.
Compaction
    A ``context_management.edits`` entry ``{"type": "compact_20260112"}``
    triggers when the request's ``input_tokens`` (body size / 4) reach
    ``trigger.value`` (default 150000; any value accepted). The answer then
    starts with a ``compaction`` block: content_block_start with
    ``{"type": "compaction", "content": null, "encrypted_content": null}``, one
    ``compaction_delta`` carrying both complete values (the SDK assigns, not
    appends), content_block_stop; then the normal answer.
    ``pause_after_compaction: true``: the block alone, ``stop_reason
    compaction``. The final message (message_delta) has ``context_management
    {"applied_edits": []}`` and ``usage.iterations`` ``[compaction, message]``
    (the compaction entry's tokens are not in the top-level usage).
Refusals and server-side fallback
    A last user message containing the documented magic string
    ``REFUSAL_MAGIC_STRING`` refuses with category ``cyber``; the header
    ``x-streamsafe-refusal: <category>`` (cyber, bio, frontier_llm,
    reasoning_extraction, general_harms, or ``null``) picks the category. The
    model writes a few words (a text block), then: without ``fallbacks``,
    ``stop_reason refusal`` and ``stop_details {"type": "refusal", "category",
    "explanation"}`` (both null for ``null``) on message_delta and the Message.
    With ``fallbacks`` (the first entry's ``model`` and ``max_tokens``, or
    ``"default"``: ``claude-opus-4-8``): a ``fallback`` block (start and stop, no
    deltas) ``{"from": {"model": <requested>}, "to": {"model": <fallback>},
    "trigger": {"type": "refusal", "category": ...}}``, then the fallback
    model's own answer; ``usage.iterations`` ``[message (requested model),
    fallback_message (fallback model)]``; the non-streamed ``model`` is the
    fallback model (message_start keeps the requested one).
Validation (known models only)
    For the model ids of the official SDK (``claude-opus-4-6``, dated and
    provider variants included; see ``_models.py``): thinking ``enabled`` with
    ``budget_tokens`` below 1024, or not below ``max_tokens``, is a 400; a last
    ``assistant`` message (prefill) to Claude Fable 5, Mythos 5, Mythos
    Preview, Opus 4.8, 4.7 and 4.6 or Sonnet 4.6 is a 400 "Prefilling assistant
    messages is not supported for this model." Other models accept a prefill
    (the answer is planned as usual). Made-up ids (``claude-emulated``) skip
    these checks, so tests may use tiny thinking budgets.
AWS request ids
    With ``Emulator(aws_request_ids=True)``, or per request with the header
    ``x-streamsafe-aws: 1``, every response also carries ``x-amzn-requestid``
    (a UUID, distinct from ``request-id``), as Claude Platform on AWS does.
    Error bodies keep ``request_id`` (the ``request-id`` value).

Choosing a fault
----------------
Per request with the header ``x-streamsafe-fault: <spec>`` (both endpoints),
or with the queue filled by ``emu.push_fault``, ``streamsafe serve --fault``
or ``POST /_emulator/faults`` (``/v1/messages`` only, one fault popped per
request that has no such header). The header ``x-streamsafe-fault: none``
asks for a clean answer without touching the queue. A 413 for an oversize
body is decided before any fault and pops none. Responses to a faulted
request carry the fault back in a ``x-streamsafe-fault`` header (except raw
responses).

Fail N times, then recover, from any client: a header spec with ``times=N``
(``x-streamsafe-fault: status:529;times=2``) applies to the first N requests
carrying it; later requests carrying it get a clean answer (the queue stays
untouched). Requests are counted per counter key, on both endpoints: the
canonical spec (``times`` included, so ``status:529;times=2`` and
``status:529 ; times = 2`` share a counter, ``status:529;times=3`` has its
own), or ``key=K`` when given (``status:529;times=2;key=test-17``: one
counter per test, so tests sharing a server need no reset; specs with the
same key share its counter). ``emu.clear()`` and ``POST /_emulator/reset``
reset the counters. In a queue, ``times=N`` queues the fault N times.

Admin endpoints
---------------
For tests in any language (``streamsafe serve`` plus curl, the official SDK,
...); JSON in and out; their requests are logged but not recorded::

    POST /_emulator/faults    {"spec": "status:529", "times": 2}
                              queue a fault (times: default the spec's, else 1;
                              0 to 10000); answers {"pending": [spec, ...]}
    GET  /_emulator/faults    {"pending": [spec, ...]}
    GET  /_emulator/requests  {"requests": [{"method", "path", "status",
                              "request_id", "fault", "duration_ms", "headers",
                              "body_size", "json"}, ...]}   oldest first
    POST /_emulator/reset     drop the queue, the request log and the
                              times= counters; answers {"reset": true}

An invalid fault is a 400 ``invalid_request_error``. Anyone who can reach the
port can use them: keep the emulator on loopback.

Request log
-----------
``streamsafe serve`` writes one line per request to stderr once its response
is over (``Emulator(log=...)`` gets the same lines)::

    POST /v1/messages 529 req_01… status:529;times=2 3ms

method, path, status (``-``: the connection was closed or reset before any
response), request id (``-`` for admin requests), the fault applied (``-``:
none), the duration in milliseconds.

Fault grammar
-------------
::

    spec     = kind [":" argument] ["@" position] *(";" name "=" value)
    position = N | "start"        N: a non-negative integer, default 0

Every kind accepts ``times=N`` (N >= 1) and ``key=K`` (see *Choosing a
fault*; after ``content_type:`` and ``empty_200:``, only as trailing options).

For streams N counts the events sent before the fault strikes
(``message_start`` is event 1, the ping after it event 2; periodic pings are
not counted; an N beyond the stream strikes after ``message_stop``). For
non-streamed answers (JSON bodies) N counts bytes of the body. The response
headers are always sent before N is counted; ``@start`` strikes before them.

``error:<type>@N`` (options ``message=``, ``code=``)
    Streams: after N events, ``event: error`` with
    ``{"type":"error","error":{"type":<type>,"message":...},"request_id":...}``,
    then the response ends. ``@0``: before message_start. Any of the ten
    documented types, or any other string verbatim. Non-streamed: the HTTP
    status error the type stands for (unknown types: 500). ``code=<error_code>``
    adds ``"details": {"error_code": <error_code>}`` to the error object
    (``error:overloaded_error@3;code=compaction_unavailable``).
``status:<code>`` (options ``retry_after=``, ``retry_after_ms=``,
``should_retry=true|false``, ``type=``, ``message=``, ``code=``)
    That status with the JSON error body; the error type defaults to the one
    documented for the status (400 invalid_request_error, 401
    authentication_error, 402 billing_error, 403 permission_error, 404
    not_found_error, 413 request_too_large, 429 rate_limit_error, 500
    api_error, 504 timeout_error, 529 overloaded_error, others api_error).
    The options send the ``retry-after``, ``retry-after-ms`` and
    ``x-should-retry`` headers, values verbatim (so invalid ones can be tested);
    ``code=`` sets ``error.details.error_code`` as for ``error``
    (``status:429;code=ramp_limit_exceeded``).
``html:<code>`` / ``empty:<code>`` (the three retry options)
    An HTML error page (``text/html``), or an empty body, with that status.
``truncate@N``
    The response ends cleanly (valid chunked encoding) after N events or
    bytes: no ``message_stop``. ``truncate@start``: the connection is closed
    without any response.
``truncate_bytes@K``
    Ends cleanly after K bytes of body, wherever they fall: inside a line,
    inside a UTF-8 character.
``reset@N``
    After N events or bytes, a TCP reset: the socket is closed with SO_LINGER
    (on, 0). Bytes already written reach the client first; then reading
    fails (httpx: ``ReadError``, or ``RemoteProtocolError``).
    ``reset@start``: reset before any response.
``stall@N`` (option ``seconds=``, default 30)
    After N events or bytes nothing is sent for that long, then the answer
    completes normally. ``stall@start`` stalls before the headers.
``stall_pings@N`` (options ``seconds=`` default 30, ``every=`` default 0.2)
    After N events only ``event: ping`` every ``every`` seconds for
    ``seconds``, then the stream completes normally. (JSON bodies: a stall.)
``content_type:<media type>``
    A 200 labelled with that content type, the rest of the spec taken
    verbatim (``content_type:text/event-stream; charset=latin-1``). The body
    matches the label: the normal stream for text/event-stream, the JSON
    answer for a JSON type, an HTML page for HTML, plain text otherwise.
``empty_200`` / ``empty_200:<media type>``
    A 200 with an empty body, labelled ``text/event-stream`` for streamed
    requests and ``application/json`` otherwise, or with the type given.
``none``
    No fault.

A client disconnect or the emulator stopping cancels any delay or stall at
once. ``stop()`` aborts open connections and joins the thread in well under
a second.

The pytest plugin (entry point ``streamsafe``) provides the function-scoped
fixture ``streamsafe_emulator``; ``@pytest.mark.streamsafe_emulator(event_delay=...,
ping_interval=...)`` configures it.
"""

from __future__ import annotations

try:
    import starlette as _starlette  # noqa: F401
    import uvicorn as _uvicorn  # noqa: F401
except ImportError as _exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "streamsafe.testing needs the 'server' extra: pip install 'streamsafe[server]'"
    ) from _exc

from ._batches import BATCH_HEADER
from ._emulator import Emulator, serve
from ._faults import ERROR_TYPES, STATUS_FOR_ERROR_TYPE, Fault, RawResponse
from ._http import (
    AWS_HEADER,
    AWS_REQUEST_ID_HEADER,
    DELAY_HEADER,
    FAULT_HEADER,
    MAX_REQUEST_BYTES,
    REFUSAL_HEADER,
)
from ._refusal import REFUSAL_MAGIC_STRING
from ._state import RecordedRequest

__all__ = [
    "AWS_HEADER",
    "BATCH_HEADER",
    "AWS_REQUEST_ID_HEADER",
    "DELAY_HEADER",
    "ERROR_TYPES",
    "FAULT_HEADER",
    "MAX_REQUEST_BYTES",
    "REFUSAL_HEADER",
    "REFUSAL_MAGIC_STRING",
    "STATUS_FOR_ERROR_TYPE",
    "Emulator",
    "Fault",
    "RawResponse",
    "RecordedRequest",
    "serve",
]
