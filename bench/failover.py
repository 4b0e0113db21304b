"""What a failover costs the client: time to the first token of sequential requests through a
gateway with one upstream, against one whose first upstream refuses every connection (tried first
on every request: its weight is the only one above 0, and it never cools down).

    python -m bench.failover                 # 300 requests a round, two rounds, alternating
    python -m bench.failover --requests 20 --rounds 1     # a smoke run

Both gateways are on SQLite, pinned to core 0; the fake upstream has core 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.servers import Server, free_port, migrate

BODY = {"prompt": "[[chunks=2]]", "model": "m"}


def config(path: Path, bases: list[str]) -> Path:
    entries = [
        {
            "model_name": "m",
            "litellm_params": {"model": "hosted_vllm/fake-large", "api_base": base, "weight": 1 if i == 0 else 0},
            "model_info": {"id": f"u{i}"},
        }
        for i, base in enumerate(bases)
    ]
    path.write_text(json.dumps({"model_list": entries, "router_settings": {"cooldown_time": 0}}))
    return path


async def first_tokens(url: str, total: int) -> tuple[list[float], set[str]]:
    """Seconds to the first body bytes of `total` requests one after the other, and who answered."""
    seconds: list[float] = []
    answered: set[str] = set()
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(20):  # warm: the upstream connection open
            await client.post(url + "/stream", json=BODY)
        for _ in range(total):
            started = time.perf_counter()
            async with client.stream("POST", url + "/stream", json=BODY) as response:
                async for _ in response.aiter_raw():
                    seconds.append(time.perf_counter() - started)
                    break
                if response.status_code != 200:
                    raise RuntimeError(f"status {response.status_code}")
                answered.add(response.headers["x-upstream"])
    return seconds, answered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="gateway-failover-"))
    upstream = Server("upstream", "bench.fake_openai:app", 1, {}, workdir / "upstream.log")
    good = f"http://127.0.0.1:{upstream.port}/v1"
    refused = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    setups = {"one upstream": [good], "a refused one first": [refused, good]}
    try:
        for round_ in range(args.rounds):
            for name, bases in setups.items():
                url = f"sqlite:///{workdir / f'{round_}-{len(bases)}.db'}"
                migrate(url)
                env = {
                    "GATEWAY_CONFIG": str(config(workdir / f"{len(bases)}.yaml", bases)),
                    "DATABASE_URL": url,
                    "RATE_LIMIT_ENABLED": "false",
                }
                gateway = Server(
                    f"gateway-{len(bases)}", "gateway.app:app", 0, env, workdir / f"gateway-{len(bases)}.log"
                )
                try:
                    seconds, answered = asyncio.run(first_tokens(f"http://127.0.0.1:{gateway.port}", args.requests))
                finally:
                    gateway.stop()
                p50 = statistics.median(seconds) * 1000
                p95 = statistics.quantiles(seconds, n=20)[-1] * 1000 if len(seconds) > 1 else p50
                print(
                    f"round {round_ + 1} {name:20} TTFT p50 {p50:.2f} ms, p95 {p95:.2f} ms"
                    f"; answered by {sorted(answered)}"
                )
    finally:
        upstream.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
