"""OpenTelemetry for streamsafe (the ``otel`` extra), after the GenAI semantic conventions.

::

    pip install 'streamsafe[otel]'

    from streamsafe.otel import OpenTelemetryObserver
    client = streamsafe.AsyncClient(observer=OpenTelemetryObserver())

:class:`OpenTelemetryObserver` is an :class:`~streamsafe.Observer`: the
library tells it every attempt, retry and ending, so spans are ended exactly
once whether the stream completes, fails, is cancelled, broken out of or
garbage-collected (see :mod:`streamsafe._observe`). It uses the global tracer
and meter providers unless given others.

**Span** — one ``CLIENT`` span per call, named ``chat {model}``, from the
call's start (its parent is the span current then) to its end, covering every
retry and the whole stream:

* at the start: ``gen_ai.operation.name`` (``chat``), ``gen_ai.provider.name``
  (``anthropic``), ``gen_ai.request.model``, ``gen_ai.request.max_tokens``,
  ``gen_ai.request.temperature`` / ``top_p`` / ``top_k`` /
  ``stop_sequences`` when given, ``gen_ai.request.stream`` (``True``: the
  request streams even under ``create()``), ``server.address`` /
  ``server.port``;
* per response: ``http.response.status_code``, ``anthropic.request_id`` (the
  ``request-id`` header; no convention names it) and ``aws.request_id``
  (``x-amzn-requestid``, Claude Platform on AWS);
* ``gen_ai.response.time_to_first_chunk``: seconds from the call's start to
  the first ``content_block_start``, only if content arrived;
* at the end: ``gen_ai.response.id`` / ``model`` / ``finish_reasons``,
  ``gen_ai.usage.input_tokens`` (Anthropic's ``input_tokens`` +
  ``cache_read_input_tokens`` + ``cache_creation_input_tokens``, as the
  conventions define it for Anthropic), ``gen_ai.usage.output_tokens``,
  ``gen_ai.usage.cache_read.input_tokens``,
  ``gen_ai.usage.cache_creation.input_tokens`` (partial usage on a failure),
  ``streamsafe.outcome`` (``completed`` / ``failed`` / ``abandoned``),
  ``streamsafe.abandon_reason``, ``streamsafe.attempts``; a
  ``streamsafe.retry`` span event per retry.

**Errors** — status ``ERROR`` and ``error.type``: a failure records the
streamsafe class name (``OverloadedError``, ``IncompleteStreamError``,
``StreamIdleTimeoutError``, ...; see :mod:`streamsafe.errors`); a
cancellation ``cancelled``; a stream garbage-collected before its end
``garbage_collected``; a stream closed early by an exception in the caller's
code that exception's class name. A stream closed early without an exception
(``break``, ``aclose()``) is not an error: status unset.

**Metrics** (histograms, with the conventions' bucket boundaries):
``gen_ai.client.operation.duration`` (s, ``error.type`` on errors),
``gen_ai.client.token.usage`` (``{token}``, ``gen_ai.token.type``
``input``/``output``), ``gen_ai.client.operation.time_to_first_chunk`` (s,
only when content arrived) and ``gen_ai.client.operation.time_per_output_chunk``
(s, one point per read of the body after the first content: a chunk is what
one read delivered, one or more SSE events — never one point per event; the
points are recorded together, 1024 at a time and when the call ends, which
costs a stream a third of recording each during the read).

**Content** is never recorded unless ``capture_content=True``: then
``gen_ai.system_instructions``, ``gen_ai.input.messages`` and
``gen_ai.output.messages`` are added to the span as JSON strings.

**Batch operations** (``client.messages.batches``) — one ``CLIENT`` span
per operation (see :mod:`streamsafe._observe`), from its start to its end.
The GenAI conventions name no batch operation (their
``gen_ai.operation.name`` values are ``chat``, ``embeddings``,
``text_completion``, ... "otherwise a custom value MAY be used"), so the
operation is ``batches.create``, ``batches.retrieve``, ``batches.list``,
``batches.cancel``, ``batches.delete``, ``batches.wait`` or
``batches.results``, and the span is named like a GenAI span: the operation,
then the model when one applies (``batches.create {model}`` when every
request names the same model; otherwise the operation alone):

* at the start: ``gen_ai.operation.name``, ``gen_ai.provider.name``,
  ``gen_ai.request.model`` (create, one model), ``server.address`` /
  ``server.port``, ``anthropic.batch.id`` when known (``create`` sets it at
  the end), ``anthropic.batch.requests`` (create: the number of requests);
* at the end: ``anthropic.batch.id``, ``anthropic.batch.processing_status``
  and ``anthropic.batch.request_counts.{processing,succeeded,errored,canceled,expired}``
  of the latest state read, ``anthropic.request_id`` / ``aws.request_id`` of
  the latest response, ``streamsafe.outcome``, ``streamsafe.abandon_reason``,
  ``streamsafe.attempts`` (HTTP requests sent); ``wait``:
  ``streamsafe.batch.polls`` / ``streamsafe.batch.failed_polls``;
  ``results``: ``streamsafe.batch.resumes``, ``streamsafe.batch.rows`` and
  ``streamsafe.batch.rows.{succeeded,errored,canceled,expired}`` (rows read,
  by result type); ``list``: ``streamsafe.batch.listed``;
* span events: ``streamsafe.retry`` for each retried request and each failed
  poll of a ``wait`` survived (``error.type``, the delay, the request ids);
  ``streamsafe.batch.poll`` for each answered poll (processing status,
  requests done, the delay before the next); ``streamsafe.batch.resume`` for
  each cut ``results`` download resumed (``error.type``, the offset, rows
  read so far, ``Range`` or not). A long wait polls many times: the SDK
  keeps 128 events per span by default (``OTEL_SPAN_EVENT_COUNT_LIMIT``);
  the counts at the end are always whole;
* errors as for calls: status ``ERROR`` and ``error.type`` (the streamsafe
  class, ``BatchWaitTimeoutError`` included; ``cancelled``;
  ``garbage_collected``); a ``list`` or ``results`` left early without an
  exception is not an error.

No metric is recorded for batch operations: the conventions' metrics
describe model calls, and a batch's usage arrives row by row in its results.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

try:
    from opentelemetry import metrics, trace
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "streamsafe.otel needs OpenTelemetry: pip install 'streamsafe[otel]'"
    ) from exc

import httpx

from ._observe import (
    BatchEnd,
    BatchOperation,
    BatchPoll,
    BatchResume,
    Call,
    Observer,
    ResponseHeaders,
    RetryScheduled,
    StreamEnd,
)
from ._version import __version__

__all__ = ["OpenTelemetryObserver"]

PROVIDER = "anthropic"
OPERATION = "chat"

#: The conventions' advice for the duration and per-chunk histograms (seconds).
DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
#: The conventions' advice for the token usage histogram.
TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip

#: Per-chunk times kept before they are recorded together (bounds the memory held).
CHUNK_FLUSH = 1024

_REQUEST_ATTRIBUTES = {
    "max_tokens": ("gen_ai.request.max_tokens", int),
    "temperature": ("gen_ai.request.temperature", float),
    "top_p": ("gen_ai.request.top_p", float),
    "top_k": ("gen_ai.request.top_k", float),  # a double in the conventions
}


class _Open:
    """What the observer keeps for one call until it ends."""

    __slots__ = ("chunks", "common", "span")

    def __init__(self, span: Span, common: dict[str, Any]) -> None:
        #: Per-chunk times not yet recorded (see ``on_chunk``).
        self.chunks: list[float] = []
        self.span = span
        #: The attributes every metric point of this call carries.
        self.common = common


class OpenTelemetryObserver(Observer):
    """Spans and metrics after the OpenTelemetry GenAI semantic conventions.

    ``tracer_provider`` / ``meter_provider``: default, the global ones;
    ``capture_content``: record the request's and the response's messages
    (they may hold personal data; off by default).
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        capture_content: bool = False,
    ) -> None:
        self._tracer = trace.get_tracer("streamsafe", __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter("streamsafe", __version__, meter_provider=meter_provider)
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self._first_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time to receive the first chunk of the response stream.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._per_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_per_output_chunk",
            unit="s",
            description="Time per output chunk, for each chunk after the first one.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._capture_content = capture_content
        self._calls: dict[Call, _Open] = {}
        self._batch_ops: dict[BatchOperation, Span] = {}

    # -- lifecycle ---------------------------------------------------------------

    def on_start(self, call: Call) -> None:
        params = call.params
        model = params.get("model")
        common: dict[str, Any] = {
            "gen_ai.operation.name": OPERATION,
            "gen_ai.provider.name": PROVIDER,
        }
        if isinstance(model, str):
            common["gen_ai.request.model"] = model
        common.update(_server(call.url))
        attributes = dict(common)
        attributes["gen_ai.request.stream"] = True
        for key, (name, kind) in _REQUEST_ATTRIBUTES.items():
            value = params.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                attributes[name] = kind(value)
        stop = params.get("stop_sequences")
        if isinstance(stop, Sequence) and not isinstance(stop, str) and stop:
            attributes["gen_ai.request.stop_sequences"] = [str(s) for s in stop]
        if self._capture_content:
            attributes.update(_input_content(params))
        name = f"{OPERATION} {model}" if isinstance(model, str) and model else OPERATION
        span = self._tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        self._calls[call] = _Open(span, common)

    def on_headers(self, call: Call, headers: ResponseHeaders) -> None:
        opened = self._calls.get(call)
        if opened is None:
            return
        span = opened.span
        span.set_attribute("http.response.status_code", headers.status_code)
        if headers.request_id is not None:
            span.set_attribute("anthropic.request_id", headers.request_id)
        if headers.aws_request_id is not None:
            span.set_attribute("aws.request_id", headers.aws_request_id)

    def on_first_content(self, call: Call, seconds: float) -> None:
        opened = self._calls.get(call)
        if opened is not None:
            opened.span.set_attribute("gen_ai.response.time_to_first_chunk", seconds)

    def on_chunk(self, call: Call, seconds: float) -> None:
        # Recorded CHUNK_FLUSH at a time, and at the end: the same points, but
        # a histogram record() interleaved with every read of the body cost
        # the stream about 15% of its CPU time (cold caches); in a row, a third.
        opened = self._calls.get(call)
        if opened is not None:
            chunks = opened.chunks
            chunks.append(seconds)
            if len(chunks) >= CHUNK_FLUSH:
                self._flush_chunks(opened)

    def _flush_chunks(self, opened: _Open) -> None:
        record, common = self._per_chunk.record, opened.common
        for seconds in opened.chunks:
            record(seconds, common)
        opened.chunks.clear()

    def on_retry(self, call: Call, retry: RetryScheduled) -> None:
        opened = self._calls.get(call)
        if opened is not None:
            opened.span.add_event(
                "streamsafe.retry",
                {
                    "streamsafe.attempt": retry.attempt,
                    "streamsafe.retry.delay": retry.delay,
                    "streamsafe.retry.content_received": retry.content_received,
                    "error.type": type(retry.error).__name__,
                },
            )

    def on_end(self, call: Call, end: StreamEnd) -> None:
        opened = self._calls.pop(call, None)
        if opened is None:
            return
        if opened.chunks:
            self._flush_chunks(opened)
        span, common = opened.span, dict(opened.common)
        message = end.message
        if message is not None:
            if message.model:
                common["gen_ai.response.model"] = message.model
            span.set_attribute("gen_ai.response.id", message.id)
            if message.stop_reason is not None:
                span.set_attribute("gen_ai.response.finish_reasons", [message.stop_reason])
            if self._capture_content and end.outcome == "completed":
                span.set_attribute("gen_ai.output.messages", _output_content(message))
        usage = _usage(end)
        for name, value in usage.items():
            span.set_attribute(name, value)
        span.set_attribute("streamsafe.outcome", end.outcome)
        span.set_attribute("streamsafe.attempts", end.metrics.attempts)
        if end.reason is not None:
            span.set_attribute("streamsafe.abandon_reason", end.reason)
        error_type = _error_type(end)
        if error_type is not None:
            common["error.type"] = error_type
            span.set_status(Status(StatusCode.ERROR, _describe(end)))
        span.set_attributes(common)
        span.end()

        self._duration.record(end.metrics.duration, common)
        ttfc = end.metrics.time_to_first_content
        if ttfc is not None:
            metric_common = {k: v for k, v in common.items() if k != "error.type"}
            self._first_chunk.record(ttfc, metric_common)
        if usage:
            token_common = {k: v for k, v in common.items() if k != "error.type"}
            self._tokens.record(
                usage["gen_ai.usage.input_tokens"], {**token_common, "gen_ai.token.type": "input"}
            )
            self._tokens.record(
                usage["gen_ai.usage.output_tokens"],
                {**token_common, "gen_ai.token.type": "output"},
            )

    # -- batch operations ----------------------------------------------------------

    def on_batch_start(self, op: BatchOperation) -> None:
        operation = f"batches.{op.name}"
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": PROVIDER,
        }
        if op.model:
            attributes["gen_ai.request.model"] = op.model
        attributes.update(_server(op.url))
        if op.batch_id:
            attributes["anthropic.batch.id"] = op.batch_id
        if op.requests is not None:
            attributes["anthropic.batch.requests"] = op.requests
        name = f"{operation} {op.model}" if op.model else operation
        span = self._tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        self._batch_ops[op] = span

    def on_batch_retry(self, op: BatchOperation, retry: RetryScheduled) -> None:
        span = self._batch_ops.get(op)
        if span is not None:
            span.add_event(
                "streamsafe.retry",
                {
                    "streamsafe.attempt": retry.attempt,
                    "streamsafe.retry.delay": retry.delay,
                    "error.type": type(retry.error).__name__,
                    **_ids(retry.error.request_id, retry.error.aws_request_id),
                },
            )

    def on_batch_poll(self, op: BatchOperation, poll: BatchPoll) -> None:
        span = self._batch_ops.get(op)
        if span is None:
            return
        attributes: dict[str, Any] = {"streamsafe.batch.poll": poll.poll}
        if poll.delay is not None:
            attributes["streamsafe.retry.delay" if poll.error else "streamsafe.batch.next_poll"] = (
                poll.delay
            )
        attributes.update(_ids(poll.request_id, poll.aws_request_id))
        if poll.error is not None:
            attributes["error.type"] = type(poll.error).__name__
            span.add_event("streamsafe.retry", attributes)
            return
        if poll.batch is not None:
            counts = poll.batch.request_counts
            attributes["anthropic.batch.processing_status"] = poll.batch.processing_status
            attributes["anthropic.batch.requests_done"] = counts.done
        span.add_event("streamsafe.batch.poll", attributes)

    def on_batch_resume(self, op: BatchOperation, resume: BatchResume) -> None:
        span = self._batch_ops.get(op)
        if span is not None:
            span.add_event(
                "streamsafe.batch.resume",
                {
                    "streamsafe.batch.resume": resume.resume,
                    "streamsafe.retry.delay": resume.delay,
                    "error.type": type(resume.error).__name__,
                    "streamsafe.batch.offset": resume.offset,
                    "streamsafe.batch.rows": resume.rows,
                    "streamsafe.batch.range": resume.ranged,
                },
            )

    def on_batch_end(self, op: BatchOperation, end: BatchEnd) -> None:
        span = self._batch_ops.pop(op, None)
        if span is None:
            return
        attributes: dict[str, Any] = {
            "streamsafe.outcome": end.outcome,
            "streamsafe.attempts": end.requests,
            **_ids(end.request_id, end.aws_request_id),
        }
        if op.batch_id:
            attributes["anthropic.batch.id"] = op.batch_id
        batch = end.batch
        if batch is not None:
            attributes["anthropic.batch.processing_status"] = batch.processing_status
            counts = batch.request_counts
            for state in ("processing", "succeeded", "errored", "canceled", "expired"):
                attributes[f"anthropic.batch.request_counts.{state}"] = getattr(counts, state)
        if op.name == "wait":
            attributes["streamsafe.batch.polls"] = end.polls
            attributes["streamsafe.batch.failed_polls"] = end.failed_polls
        elif op.name == "results":
            attributes["streamsafe.batch.resumes"] = end.resumes
            attributes["streamsafe.batch.rows"] = end.items
            for kind, count in end.results.items():
                attributes[f"streamsafe.batch.rows.{kind}"] = count
        elif op.name == "list":
            attributes["streamsafe.batch.listed"] = end.items
        if end.reason is not None:
            attributes["streamsafe.abandon_reason"] = end.reason
        error_type = _error_type(end)
        if error_type is not None:
            attributes["error.type"] = error_type
            span.set_status(Status(StatusCode.ERROR, _describe(end)))
        span.set_attributes(attributes)
        span.end()


def _ids(request_id: str | None, aws_request_id: str | None) -> dict[str, str]:
    ids = {}
    if request_id is not None:
        ids["anthropic.request_id"] = request_id
    if aws_request_id is not None:
        ids["aws.request_id"] = aws_request_id
    return ids


def _server(url: str) -> dict[str, Any]:
    try:
        parsed = httpx.URL(url)
    except Exception:
        return {}
    if not parsed.host:
        return {}
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return {"server.address": parsed.host, "server.port": port}


def _usage(end: StreamEnd) -> dict[str, int]:
    usage = end.usage
    if usage is None:
        return {}
    cache_read = usage.cache_read_input_tokens
    cache_creation = usage.cache_creation_input_tokens
    read = cache_read if isinstance(cache_read, int) else 0
    created = cache_creation if isinstance(cache_creation, int) else 0
    counts = {
        "gen_ai.usage.input_tokens": usage.input_tokens + read + created,
        "gen_ai.usage.output_tokens": usage.output_tokens,
    }
    if isinstance(cache_read, int):
        counts["gen_ai.usage.cache_read.input_tokens"] = cache_read
    if isinstance(cache_creation, int):
        counts["gen_ai.usage.cache_creation.input_tokens"] = cache_creation
    return counts


def _error_type(end: StreamEnd | BatchEnd) -> str | None:
    if end.outcome == "completed":
        return None
    if end.outcome == "failed":
        return type(end.error).__name__
    if end.reason == "cancelled":
        return "cancelled"
    if end.reason == "garbage_collected":
        return "garbage_collected"
    return None if end.error is None else type(end.error).__qualname__


def _describe(end: StreamEnd | BatchEnd) -> str:
    if end.error is not None and end.outcome == "failed":
        return str(end.error)
    return f"{end.outcome} ({end.reason})"


# -- content (opt-in) ----------------------------------------------------------------


def _parts(content: Any) -> list[dict[str, Any]]:
    """Anthropic content blocks as the conventions' message parts (text, tool calls)."""
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, Mapping):
            block = block.to_dict() if hasattr(block, "to_dict") else {}
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "content": block.get("text", "")})
        elif kind == "thinking":
            parts.append({"type": "reasoning", "content": block.get("thinking", "")})
        elif kind == "tool_use":
            parts.append(
                {
                    "type": "tool_call",
                    "id": block.get("id"),
                    "name": block.get("name"),
                    "arguments": block.get("input"),
                }
            )
        elif kind == "tool_result":
            parts.append(
                {
                    "type": "tool_call_response",
                    "id": block.get("tool_use_id"),
                    "response": block.get("content"),
                }
            )
        else:
            parts.append({"type": str(kind)})
    return parts


def _input_content(params: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    system = params.get("system")
    if system:
        out["gen_ai.system_instructions"] = json.dumps(_parts(system), default=str)
    messages = params.get("messages")
    if isinstance(messages, list):
        converted = [
            {"role": m.get("role"), "parts": _parts(m.get("content"))}
            for m in messages
            if isinstance(m, Mapping)
        ]
        out["gen_ai.input.messages"] = json.dumps(converted, default=str)
    return out


def _output_content(message: Any) -> str:
    output = {
        "role": "assistant",
        "parts": _parts(list(message.content)),
        "finish_reason": message.stop_reason,
    }
    return json.dumps([output], default=str)
