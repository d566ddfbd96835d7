"""What observing a stream costs: 100k text deltas in memory, three ways.

* ``no observer`` — :func:`streamsafe.aconnect_message_stream` as in
  ``bench_inmemory.py`` (iterate the events, then ``get_final_message()``);
* ``no-op observer`` — the same with ``observer=streamsafe.Observer()``;
* ``OTel to memory`` — with :class:`streamsafe.otel.OpenTelemetryObserver`
  on an SDK tracer provider (``SimpleSpanProcessor`` → in-memory exporter) and
  a meter provider with an in-memory reader.

Each configuration runs ``--rounds`` times, interleaved so that drift in the
machine's speed hits them all alike; the median and the best of the process's
CPU time are reported (CPU time, not wall time: other processes on a shared
machine then do not count). The run ends with the ``observe-otel-overhead``
target of ``targets.py`` (issue 13: OTel within 10% of no observer).
Run against another checkout's sources (say ``main``) with
``PYTHONPATH=that/src``: without ``streamsafe.Observer`` only the first row
runs. Usage::

    PYTHONPATH=src python benchmarks/bench_observe.py [--deltas 100000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import bench_inmemory as im
import targets
from bench_workloads import build

import streamsafe


def observers() -> dict[str, Any]:
    found: dict[str, Any] = {"no observer": None}
    if not hasattr(streamsafe, "Observer"):
        return found
    found["no-op observer"] = streamsafe.Observer()
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        from streamsafe.otel import OpenTelemetryObserver
    except ImportError:
        return found
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    found["OTel to memory"] = OpenTelemetryObserver(
        tracer_provider=tracer_provider, meter_provider=meter_provider
    )
    return found


def runner(client: Any, observer: Any) -> Callable[[], Awaitable[int]]:
    options = {} if observer is None else {"observer": observer}

    async def run() -> int:
        async with streamsafe.aconnect_message_stream(
            client, "POST", im.URL, json=im.REQUEST_BODY, **options
        ) as stream:
            async for _event in stream:
                pass
            message = await stream.get_final_message()
        return len(message.content)

    return run


async def measure(deltas: int, rounds: int) -> dict[str, list[float]]:
    served = im.Served(workload=build("text", deltas))
    client = im.httpx_client(served)
    runs = {name: runner(client, observer) for name, observer in observers().items()}
    times: dict[str, list[float]] = {name: [] for name in runs}
    try:
        for run in runs.values():  # warm up
            await run()
        for _ in range(rounds):
            for name, run in runs.items():
                started = time.process_time()
                await run()
                times[name].append(time.process_time() - started)
    finally:
        await client.aclose()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--deltas", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    times = asyncio.run(measure(args.deltas, args.rounds))
    base = statistics.median(times["no observer"])
    print(f"{args.deltas:,} text deltas, {args.rounds} rounds (ms of CPU time)")
    print(f"{'':16} {'median':>8} {'best':>8} {'vs none':>8}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(
            f"{name:16} {median * 1e3:8.1f} {min(samples) * 1e3:8.1f} "
            f"{(median / base - 1) * 100:+7.1f}%"
        )
    otel = times.get("OTel to memory")
    overhead = None if otel is None else statistics.median(otel) / base - 1
    (result,) = targets.evaluate({"observe-otel-overhead": overhead})
    print(targets.describe(result))


if __name__ == "__main__":
    main()
