"""Load generators, run in a process of their own so that the server's process measures only the server.

    python -m benchmarks.loadgen http --port P --token T --concurrency C --duration S --method POST ...
    python -m benchmarks.loadgen get --port P --token T --count N PATH [PATH ...]
    python -m benchmarks.loadgen ws --url URL --token T --idle S --max S

Each prints one JSON object on its last line of stdout. The HTTP client is a
minimal HTTP/1.1 keep-alive client on asyncio streams: httpx would spend
more CPU per request than the server being measured, on the same two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from benchmarks.measure import summary


class Http:
    """One keep-alive connection."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None or self.reader is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\n"
        )
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write((head + "\r\n").encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length, chunked = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if chunked:
            data = bytearray()
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readline()
                    break
                data += await self.reader.readexactly(size)
                await self.reader.readline()
            return status, bytes(data)
        return status, await self.reader.readexactly(length) if length else b""


async def http_load(args: argparse.Namespace) -> dict[str, Any]:
    """C connections sending the same request back to back for a while; latencies after the warm-up."""
    body = args.body.encode() if args.body else b""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    measure_from = start + args.warmup
    stop_at = measure_from + args.duration

    async def client() -> None:
        conn = Http(args.host, args.port, args.token)
        await conn.open()
        try:
            while True:
                t0 = time.perf_counter()
                if t0 >= stop_at:
                    return
                status, _ = await conn.request(args.method, args.path, body)
                t1 = time.perf_counter()
                if t0 >= measure_from:
                    latencies.append((t1 - t0) * 1000)
                    statuses[status] = statuses.get(status, 0) + 1
        finally:
            await conn.close()

    await asyncio.gather(*(client() for _ in range(args.concurrency)))
    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
    return {
        "concurrency": args.concurrency,
        "seconds": args.duration,
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / args.duration, 1),
        "ok": ok,
        "statuses": {str(k): v for k, v in statuses.items()},
        "latency_ms": summary(latencies, 2),
    }


async def get_paths(args: argparse.Namespace) -> dict[str, Any]:
    """Each path `count` times, one request at a time, interleaved; latencies per path."""
    conn = Http(args.host, args.port, args.token)
    await conn.open()
    out: dict[str, Any] = {}
    samples: dict[str, list[float]] = {p: [] for p in args.paths}
    try:
        for p in args.paths:  # warm-up: one of each
            await conn.request("GET", p)
        for _ in range(args.count):
            for p in args.paths:
                t0 = time.perf_counter()
                status, body = await conn.request("GET", p)
                samples[p].append((time.perf_counter() - t0) * 1000)
                if status != 200:
                    raise RuntimeError(f"GET {p}: {status} {body[:200]!r}")
    finally:
        await conn.close()
    for p, values in samples.items():
        out[p] = summary(values, 2)
    return out


async def ws_listen(args: argparse.Namespace) -> dict[str, Any]:
    """Receive job events; for progress events whose message is a timestamp, the delay to here."""
    import websockets

    received = 0
    samples: list[tuple[float, float]] = []  # (emitted at, latency ms)
    async with websockets.connect(
        args.url,
        additional_headers={"Authorization": f"Bearer {args.token}"},
        max_size=2**22,
        open_timeout=10,
    ) as ws:
        print("ready", flush=True)
        started = last = time.monotonic()
        first: float | None = None
        while True:
            now = time.monotonic()
            if now - started > args.max:
                break
            if first is not None and now - last > args.idle:
                break
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=0.25)
            except TimeoutError:
                continue
            at = time.time()
            last = time.monotonic()
            first = first or last
            received += 1
            msg = json.loads(raw)
            if msg.get("event") != "job-update":
                continue
            message = ((msg.get("data") or {}).get("progress") or {}).get("message")
            try:
                emitted = float(message)
            except (TypeError, ValueError):
                continue
            samples.append((emitted, round((at - emitted) * 1000, 3)))
    return {"received": received, "samples": samples}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.loadgen")
    sub = p.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("http")
    h.add_argument("--host", default="127.0.0.1")
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--token", required=True)
    h.add_argument("--method", default="POST")
    h.add_argument("--path", default="/api/jobs")
    h.add_argument("--body", default="")
    h.add_argument("--concurrency", type=int, default=16)
    h.add_argument("--duration", type=float, default=5.0)
    h.add_argument("--warmup", type=float, default=1.0)
    g = sub.add_parser("get")
    g.add_argument("--host", default="127.0.0.1")
    g.add_argument("--port", type=int, required=True)
    g.add_argument("--token", required=True)
    g.add_argument("--count", type=int, default=50)
    g.add_argument("paths", nargs="+")
    w = sub.add_parser("ws")
    w.add_argument("--url", required=True)
    w.add_argument("--token", required=True)
    w.add_argument("--idle", type=float, default=2.0, help="stop this long after the last event")
    w.add_argument("--max", type=float, default=120.0)
    args = p.parse_args(argv)
    run = {"http": http_load, "get": get_paths, "ws": ws_listen}[args.cmd]
    result = asyncio.run(run(args))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
