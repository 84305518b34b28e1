"""The HTTP floor for bench.guard: the same server stack (uvicorn, uvloop, httptools) answering every request
with one fixed guard answer, read from the file in RISKSTREAM_BENCH_FLOOR_ANSWER. What the guard's latency
would be if deciding cost nothing: the machine's and the HTTP stack's share of it."""
from __future__ import annotations

import os
from pathlib import Path

ANSWER = Path(os.environ["RISKSTREAM_BENCH_FLOOR_ANSWER"]).read_bytes()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})
