"""``make bench``: every benchmark, each printing ratios against a baseline from the same run."""

import asyncio

from bench import kit
from bench.gateway import run as gateway_bench

if __name__ == "__main__":
    asyncio.run(kit.main())
    gateway_bench.main()
