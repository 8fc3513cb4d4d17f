"""``make bench``: every benchmark, each printing ratios against a baseline from the same run."""

import asyncio

from bench import kit
from bench.catalog import run as catalog_bench
from bench.flash_sale import run as flash_sale_bench
from bench.gateway import run as gateway_bench

if __name__ == "__main__":
    asyncio.run(kit.main())
    gateway_bench.main()
    catalog_bench.main()
    flash_sale_bench.main()
