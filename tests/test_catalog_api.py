"""Catalog through its HTTP API: a real catalog process on the test database, real Redis.
Requests carry the X-Auth-* headers the gateway would set. Caches are off in this process
(TTL 0), so every read sees the last write; the cache has its own tests.

The helpers here (``start_catalog``, ``make_product``, ...) are shared by the other
``test_catalog_*`` files."""

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from devstack.infra import free_port

from tests.support import Processes

STAFF = {"X-Auth-Staff-Id": str(uuid.uuid4()), "X-Auth-Staff-Roles": "operator"}
NO_CACHE = {
    "CATALOG_PRODUCT_CACHE_L1_TTL_S": "0",
    "CATALOG_PRODUCT_CACHE_L2_TTL_S": "0",
    "CATALOG_STOCK_CACHE_TTL_S": "0",
    "CATALOG_SEARCH_CACHE_TTL_S": "0",
}


def supplier(supplier_id: str) -> dict[str, str]:
    return {"X-Auth-Supplier-Id": supplier_id}


def start_catalog(procs: Processes, name: str, env: dict[str, str] | None = None) -> str:
    port = free_port()
    procs.start(
        name,
        "-m",
        "uvicorn",
        "catalog.main:create_app",
        "--factory",
        "--port",
        str(port),
        env={"CATALOG_HTTP_PORT": str(port), **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} did not start")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def catalog_url(envs: dict[str, dict[str, str]]) -> Iterator[str]:
    procs = Processes(env=envs["catalog"])
    try:
        yield start_catalog(procs, f"catalog-api-{uuid.uuid4().hex[:8]}", NO_CACHE)
    finally:
        procs.stop_all()


@pytest.fixture
async def api(catalog_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=catalog_url, timeout=30) as client:
        yield client


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body["error"]) == {"code", "message", "details", "request_id"}, body
    return str(body["error"]["code"])


async def make_category(
    api: httpx.AsyncClient, name: str | None = None, parent_id: str | None = None
) -> str:
    body = {"name": name or f"类目{uuid.uuid4().hex[:6]}", "parent_id": parent_id}
    response = await api.post("/admin/v1/catalog/categories", json=body, headers=STAFF)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def make_product(
    api: httpx.AsyncClient,
    *,
    name: str,
    category_id: str | None = None,
    price_fen: int = 10000,
    stock: int = 10,
    status: str = "on_sale",
    brand_id: str | None = None,
    colors: tuple[str, ...] = ("红", "蓝"),
) -> dict[str, Any]:
    body = {
        "name": name,
        "category_id": category_id or await make_category(api),
        "brand_id": brand_id,
        "status": status,
        "specs": [{"name": "颜色", "values": list(colors)}],
        "images": ["https://img.example/1.jpg"],
        "skus": [
            {"specs": {"颜色": c}, "price_fen": price_fen + i * 100, "stock": stock}
            for i, c in enumerate(colors)
        ],
    }
    response = await api.post("/admin/v1/catalog/products", json=body, headers=STAFF)
    assert response.status_code == 201, response.text
    product: dict[str, Any] = response.json()
    return product


async def search(api: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await api.get("/api/v1/catalog/products", params={"page_size": 100, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def names(page: dict[str, Any]) -> list[str]:
    return [i["name"] for i in page["items"]]


# -- categories ---------------------------------------------------------------------------


async def test_category_tree_nests_children_in_order(api: httpx.AsyncClient) -> None:
    root = await make_category(api, f"根{uuid.uuid4().hex[:6]}")
    second = await api.post(
        "/admin/v1/catalog/categories",
        json={"name": "乙", "parent_id": root, "sort_order": 2, "icon_url": "https://i/2.png"},
        headers=STAFF,
    )
    first = await api.post(
        "/admin/v1/catalog/categories",
        json={"name": "甲", "parent_id": root, "sort_order": 1},
        headers=STAFF,
    )
    assert second.status_code == first.status_code == 201
    tree = (await api.get("/api/v1/catalog/categories")).json()["items"]
    node = next(n for n in tree if n["id"] == root)
    assert [c["name"] for c in node["children"]] == ["甲", "乙"]
    assert node["children"][1]["icon_url"] == "https://i/2.png"
    # A category cannot move under its own child; a non-empty one cannot be deleted.
    cycle = await api.patch(
        f"/admin/v1/catalog/categories/{root}",
        json={"parent_id": first.json()["id"]},
        headers=STAFF,
    )
    assert cycle.status_code == 422 and error_code(cycle) == "category_cycle"
    busy = await api.delete(f"/admin/v1/catalog/categories/{root}", headers=STAFF)
    assert busy.status_code == 409 and error_code(busy) == "category_not_empty"


async def test_staff_routes_need_the_operator_role(api: httpx.AsyncClient) -> None:
    finance = {"X-Auth-Staff-Id": str(uuid.uuid4()), "X-Auth-Staff-Roles": "finance"}
    response = await api.post("/admin/v1/catalog/categories", json={"name": "x"}, headers=finance)
    assert response.status_code == 403 and error_code(response) == "forbidden"
    anonymous = await api.post("/admin/v1/catalog/categories", json={"name": "x"})
    assert anonymous.status_code == 401 and error_code(anonymous) == "unauthenticated"


# -- products -----------------------------------------------------------------------------


async def test_product_detail_shows_skus_with_stock_and_hides_drafts(
    api: httpx.AsyncClient,
) -> None:
    product = await make_product(api, name="测试保温杯", price_fen=8900, stock=7)
    assert product["price_fen"] == 8900 and len(product["skus"]) == 2
    detail = await api.get(f"/api/v1/catalog/products/{product['id']}")
    assert detail.status_code == 200
    body = detail.json()
    assert body["name"] == "测试保温杯" and body["in_stock"] is True
    assert {(s["specs"]["颜色"], s["price_fen"], s["stock"]) for s in body["skus"]} == {
        ("红", 8900, 7),
        ("蓝", 9000, 7),
    }
    assert set(body["skus"][0]) >= {"id", "specs", "price_fen", "stock"}
    draft = await make_product(api, name="草稿商品", status="draft")
    hidden = await api.get(f"/api/v1/catalog/products/{draft['id']}")
    assert hidden.status_code == 404 and error_code(hidden) == "product_not_found"
    unknown = await api.get(f"/api/v1/catalog/products/{uuid.uuid4()}")
    assert unknown.status_code == 404 and error_code(unknown) == "product_not_found"
    bad_id = await api.get("/api/v1/catalog/products/not-a-uuid")
    assert bad_id.status_code == 422 and error_code(bad_id) == "validation_error"


async def test_sku_specs_must_match_the_products_specs(api: httpx.AsyncClient) -> None:
    body = {
        "name": "规格不符",
        "category_id": await make_category(api),
        "specs": [{"name": "颜色", "values": ["红"]}],
        "skus": [{"specs": {"颜色": "绿"}, "price_fen": 100}],
    }
    response = await api.post("/admin/v1/catalog/products", json=body, headers=STAFF)
    assert response.status_code == 422 and error_code(response) == "sku_specs_invalid"
    body["skus"] = [{"specs": {"颜色": "红"}, "price_fen": -1}]
    negative = await api.post("/admin/v1/catalog/products", json=body, headers=STAFF)
    assert negative.status_code == 422 and error_code(negative) == "validation_error"


async def test_editing_a_product_publishes_product_changed(api: httpx.AsyncClient) -> None:
    product = await make_product(api, name="改名前")
    sku_id = product["skus"][0]["id"]
    renamed = await api.patch(
        f"/admin/v1/catalog/products/{product['id']}", json={"name": "改名后"}, headers=STAFF
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "改名后"
    repriced = await api.patch(
        f"/admin/v1/catalog/skus/{sku_id}", json={"price_fen": 500}, headers=STAFF
    )
    assert repriced.status_code == 200
    detail = (await api.get(f"/api/v1/catalog/products/{product['id']}")).json()
    assert detail["name"] == "改名后" and detail["price_fen"] == 500
    found = await search(api, q="改名后")
    assert product["id"] in [i["id"] for i in found["items"]]


async def test_suppliers_upsert_by_their_own_codes_and_only_their_own(
    api: httpx.AsyncClient,
) -> None:
    acme, other = f"acme-{uuid.uuid4().hex[:6]}", f"other-{uuid.uuid4().hex[:6]}"
    body = {
        "name": "供应商T恤",
        "category_id": await make_category(api),
        "status": "on_sale",
        "specs": [{"name": "尺码", "values": ["M", "L"]}],
        "skus": [
            {"sku_code": "TS-M", "specs": {"尺码": "M"}, "price_fen": 5900, "stock": 3},
            {"sku_code": "TS-L", "specs": {"尺码": "L"}, "price_fen": 6900, "stock": 4},
        ],
    }
    created = await api.put("/open/v1/catalog/products/P-1", json=body, headers=supplier(acme))
    assert created.status_code == 201, created.text
    body["skus"][0]["price_fen"] = 5500  # type: ignore[index]
    updated = await api.put("/open/v1/catalog/products/P-1", json=body, headers=supplier(acme))
    assert updated.status_code == 200 and updated.json()["id"] == created.json()["id"]
    assert updated.json()["price_fen"] == 5500
    # Stock pushes by SKU code: the supplier's own SKUs only.
    pushed = await api.put(
        "/open/v1/catalog/skus/TS-M/stock", json={"available": 20}, headers=supplier(acme)
    )
    assert pushed.status_code == 200 and pushed.json()["available"] == 20
    foreign = await api.put(
        "/open/v1/catalog/skus/TS-M/stock", json={"available": 0}, headers=supplier(other)
    )
    assert foreign.status_code == 404 and error_code(foreign) == "sku_not_found"
    foreign_product = await api.get("/open/v1/catalog/products/P-1", headers=supplier(other))
    assert foreign_product.status_code == 404
    mine = await api.get("/open/v1/catalog/products/P-1", headers=supplier(acme))
    assert {s["sku_code"]: s["available"] for s in mine.json()["skus"]} == {"TS-M": 20, "TS-L": 4}
    unsigned = await api.put("/open/v1/catalog/skus/TS-M/stock", json={"available": 1})
    assert unsigned.status_code == 401


# -- search: every example of the issue ---------------------------------------------------


@pytest.fixture(scope="module")
async def shop(catalog_url: str) -> dict[str, Any]:
    """A small shop in its own category tree: dresses, phones, and a few neighbours."""
    async with httpx.AsyncClient(base_url=catalog_url, timeout=30) as api:
        root = await make_category(api, f"搜索{uuid.uuid4().hex[:6]}")
        dresses = await make_category(api, "裙装", root)
        phones = await make_category(api, "手机", root)
        brand = await api.post(
            "/admin/v1/catalog/brands", json={"name": f"Apple{uuid.uuid4().hex[:4]}"}, headers=STAFF
        )
        made = {
            "exact": await make_product(api, name="连衣裙", category_id=dresses, price_fen=30000),
            "floral": await make_product(
                api, name="碎花连衣裙", category_id=dresses, price_fen=15000, stock=0
            ),
            "silk": await make_product(api, name="真丝连衣裙 长款", category_id=dresses),
            "iphone": await make_product(
                api,
                name="iPhone 15 Pro",
                category_id=phones,
                price_fen=799900,
                brand_id=brand.json()["id"],
            ),
            "case": await make_product(api, name="手机壳", category_id=phones, price_fen=2900),
        }
        return {"root": root, "dresses": dresses, "phones": phones, **made}


async def test_chinese_substring_finds_the_product(api: httpx.AsyncClient, shop: Any) -> None:
    found = await search(api, q="衣裙", category_id=shop["root"])
    assert set(names(found)) == {"连衣裙", "碎花连衣裙", "真丝连衣裙 长款"}
    assert found["total"] == 3


@pytest.mark.parametrize("q", ["lianyiqun", "lyq", "连衣群", "LianYiQun"])
async def test_pinyin_initials_and_homophones_find_lianyiqun(
    api: httpx.AsyncClient, shop: Any, q: str
) -> None:
    found = await search(api, q=q)
    assert shop["exact"]["id"] in [i["id"] for i in found["items"]], (q, names(found))
    assert names(await search(api, q=q, category_id=shop["phones"])) == []


@pytest.mark.parametrize("q", ["iphnoe", "iphone", "IPHONE", "iphone 15"])
async def test_latin_words_and_typos_find_iphone(api: httpx.AsyncClient, shop: Any, q: str) -> None:
    found = await search(api, q=q, category_id=shop["root"])
    assert names(found) == ["iPhone 15 Pro"], q


async def test_unrelated_words_find_nothing(api: httpx.AsyncClient, shop: Any) -> None:
    assert names(await search(api, q="冰箱", category_id=shop["root"])) == []
    assert names(await search(api, q="zzzqqq", category_id=shop["root"])) == []


async def test_exact_name_ranks_first(api: httpx.AsyncClient, shop: Any) -> None:
    found = await search(api, q="连衣裙")
    assert names(found)[0] == "连衣裙"
    assert names(await search(api, q="lianyiqun", category_id=shop["root"]))[0] == "连衣裙"


async def test_category_filter_includes_descendants(api: httpx.AsyncClient, shop: Any) -> None:
    everything = await search(api, category_id=shop["root"])
    assert everything["total"] == 5
    only_phones = await search(api, category_id=shop["phones"])
    assert set(names(only_phones)) == {"iPhone 15 Pro", "手机壳"}


async def test_price_range_and_in_stock_filters(api: httpx.AsyncClient, shop: Any) -> None:
    cheap = await search(api, category_id=shop["root"], min_price_fen=2000, max_price_fen=16000)
    assert set(names(cheap)) == {"碎花连衣裙", "真丝连衣裙 长款", "手机壳"}
    stocked = await search(api, q="连衣裙", category_id=shop["root"], in_stock=True)
    assert "碎花连衣裙" not in names(stocked) and "连衣裙" in names(stocked)
    floral = next(i for i in (await search(api, q="碎花"))["items"] if i["name"] == "碎花连衣裙")
    assert floral["in_stock"] is False


async def test_sorts(api: httpx.AsyncClient, shop: Any) -> None:
    root = shop["root"]
    up = names(await search(api, category_id=root, sort="price_asc"))
    assert up == ["手机壳", "真丝连衣裙 长款", "碎花连衣裙", "连衣裙", "iPhone 15 Pro"]
    assert names(await search(api, category_id=root, sort="price_desc")) == up[::-1]
    newest = names(await search(api, category_id=root, sort="newest"))
    assert newest == ["手机壳", "iPhone 15 Pro", "真丝连衣裙 长款", "碎花连衣裙", "连衣裙"]
    bad = await api.get("/api/v1/catalog/products", params={"sort": "cheapest"})
    assert bad.status_code == 422 and error_code(bad) == "validation_error"


async def test_sales_sort_follows_committed_sales(api: httpx.AsyncClient, shop: Any) -> None:
    sku = shop["case"]["skus"][0]["id"]
    key = f"sales-{uuid.uuid4()}"
    reserved = await api.post(
        "/internal/v1/catalog/reservations",
        json={"reservation_key": key, "items": [{"sku_id": sku, "quantity": 2}]},
    )
    assert reserved.status_code == 201
    assert (await api.post(f"/internal/v1/catalog/reservations/{key}/commit")).status_code == 200
    by_sales = names(await search(api, category_id=shop["root"], sort="sales"))
    assert by_sales[0] == "手机壳"


async def test_pages(api: httpx.AsyncClient, shop: Any) -> None:
    first = await search(api, category_id=shop["root"], sort="price_asc", page_size=2)
    third = await search(api, category_id=shop["root"], sort="price_asc", page_size=2, page=3)
    beyond = await search(api, category_id=shop["root"], page_size=2, page=9)
    assert (first["total"], first["page"], first["page_size"]) == (5, 1, 2)
    assert names(first) == ["手机壳", "真丝连衣裙 长款"]
    assert names(third) == ["iPhone 15 Pro"]
    assert beyond["items"] == [] and beyond["total"] == 5


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("裙", {"连衣裙", "碎花连衣裙", "真丝连衣裙 长款"}),  # one character
        ("sj", {"手机壳"}),  # two letters: initials (the grams index)
        ("15", {"iPhone 15 Pro"}),  # two digits
        ("长款", {"真丝连衣裙 长款"}),  # two characters, not at the start of the name
    ],
)
async def test_one_and_two_character_words(
    api: httpx.AsyncClient, shop: Any, q: str, expected: set[str]
) -> None:
    found = await search(api, q=q, category_id=shop["root"])
    assert set(names(found)) == expected and found["total"] == len(expected)


# -- the hot path (catalog.hot) answers as the full stack would ------------------------------


async def test_hot_reads_keep_request_ids_metrics_and_errors(
    api: httpx.AsyncClient, shop: Any
) -> None:
    detail = await api.get(
        f"/api/v1/catalog/products/{shop['exact']['id']}", headers={"X-Request-ID": "hot-1"}
    )
    assert detail.status_code == 200 and detail.headers["x-request-id"] == "hot-1"
    assert detail.headers["content-type"] == "application/json"
    listed = await api.get("/api/v1/catalog/products", params={"q": "连衣裙"})
    assert listed.status_code == 200 and listed.headers["x-request-id"]
    metrics = (await api.get("/metrics")).text
    assert 'route="/api/v1/catalog/products/{product_id}"' in metrics
    assert 'route="/api/v1/catalog/products",service="catalog",status="200"' in metrics
    # What the hot path does not accept goes to FastAPI: the same validation and errors.
    for params in ({"page": "0"}, {"in_stock": "maybe"}, {"sort": "random"}, {"q": "x" * 65}):
        refused = await api.get("/api/v1/catalog/products", params=params)
        assert refused.status_code == 422 and error_code(refused) == "validation_error"
    repeated = await api.get(
        "/api/v1/catalog/products",
        params=[("q", "zzzqqq"), ("q", "连衣裙"), ("category_id", shop["root"])],
    )
    assert repeated.status_code == 200 and "连衣裙" in names(repeated.json())
    upper = await api.get(f"/api/v1/catalog/products/{shop['exact']['id'].upper()}")
    assert upper.status_code == 200 and upper.json()["id"] == shop["exact"]["id"]
