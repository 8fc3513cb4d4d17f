"""Pure rules of the catalog: search text forms, typo budgets, SKU specs, reservation items."""

import uuid

import pytest
from catalog.hot import parse_detail_path, parse_search_query
from catalog.products.errors import SkuSpecsInvalid
from catalog.products.schemas import SpecDef
from catalog.products.service import check_specs
from catalog.search.schemas import SortOrder
from catalog.search.text import index_product, initials, latin_words, normalize, pinyin, typo_budget
from catalog.stock.schemas import ReservationItem
from catalog.stock.service import normalize_items
from catalog.ttl_cache import TTLCache


def test_pinyin_and_initials() -> None:
    assert pinyin("连衣裙") == "lianyiqun"
    assert pinyin("连衣群") == pinyin("连衣裙")  # a homophone typo reads the same
    assert initials("连衣裙") == "lyq"
    assert pinyin("iPhone 15 手机壳") == "iphone15shoujike"
    assert normalize("  ＩＰＨＯＮＥ　１５ ") == "iphone 15"


def test_index_keeps_parts_apart() -> None:
    indexed = index_product("碎花连衣裙", "Apple", "女装", "夏季")
    assert indexed.name == "碎花连衣裙"
    assert indexed.text == "碎花连衣裙|apple|女装|夏季"
    assert indexed.pinyin == "suihualianyiqun|apple"
    assert indexed.initials == "shlyq|apple"


def test_latin_words_and_typo_budget() -> None:
    assert latin_words("Apple iPhone 15 Pro Max 5G") == {"apple", "iphone", "pro", "max"}
    assert [typo_budget(w) for w in ("pro", "nike", "iphone")] == [0, 1, 2]


def test_sku_specs_follow_the_product() -> None:
    specs = [SpecDef(name="颜色", values=["红", "蓝"]), SpecDef(name="尺码", values=["M"])]
    check_specs(specs, [{"颜色": "红", "尺码": "M"}, {"颜色": "蓝", "尺码": "M"}])
    for bad in (
        [{"颜色": "绿", "尺码": "M"}],
        [{"颜色": "红"}],
        [{"颜色": "红", "尺码": "M", "材质": "棉"}],
        [{"颜色": "红", "尺码": "M"}, {"尺码": "M", "颜色": "红"}],
    ):
        with pytest.raises(SkuSpecsInvalid):
            check_specs(specs, bad)


def test_reservation_items_are_merged_and_sorted() -> None:
    a, b = sorted((uuid.uuid4(), uuid.uuid4()), key=str)
    items = [
        ReservationItem(sku_id=b, quantity=1),
        ReservationItem(sku_id=a, quantity=2),
        ReservationItem(sku_id=b, quantity=3),
    ]
    assert normalize_items(items) == [
        {"sku_id": str(a), "quantity": 2},
        {"sku_id": str(b), "quantity": 4},
    ]


def test_ttl_cache_bounds_and_expiry() -> None:
    cache: TTLCache[str, int] = TTLCache(max_entries=2)
    cache.put("a", 1, 60)
    cache.put("b", 2, 60)
    cache.put("c", 3, 60)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, 2, 3)
    cache.put("d", 4, 0)  # a TTL of 0 keeps nothing
    assert cache.get("d") is None
    cache.clear()
    assert len(cache) == 0


def test_hot_detail_path_takes_canonical_ids_only() -> None:
    pid = uuid.uuid4()
    assert parse_detail_path(f"/api/v1/catalog/products/{pid}") == pid
    assert parse_detail_path(f"/api/v1/catalog/products/{str(pid).upper()}") == pid
    assert parse_detail_path(f"/api/v1/catalog/products/{pid.hex}") is None  # to FastAPI
    assert parse_detail_path(f"/api/v1/catalog/products/{pid}/skus") is None
    assert parse_detail_path("/api/v1/catalog/products/" + "z" * 8 + str(pid)[8:]) is None


def test_hot_search_query_parses_what_fastapi_would_and_refuses_the_rest() -> None:
    cid = uuid.uuid4()
    parsed = parse_search_query(
        f"q=%E8%BF%9E%E8%A1%A3%E8%A3%99&category_id={cid}&in_stock=true&sort=price_asc"
        "&min_price_fen=0&max_price_fen=200000&page=3&page_size=50"
    )
    assert parsed is not None
    filters, page = parsed
    assert (filters.q, filters.category_id, filters.in_stock) == ("连衣裙", cid, True)
    assert (filters.sort, filters.min_price_fen, filters.max_price_fen) == (
        SortOrder.price_asc,
        0,
        200000,
    )
    assert (page.page, page.page_size, page.offset) == (3, 50, 100)
    default = parse_search_query("")
    assert default is not None and default[0].sort is SortOrder.relevance
    assert default[1].page == 1 and default[1].page_size == 20
    assert parse_search_query("q=%20IPhone%E3%80%8015%20") is not None
    refused = [
        "page=0",
        "page_size=101",
        "page=-1",
        "min_price_fen=",
        "min_price_fen=1.5",
        "in_stock=maybe",
        "sort=random",
        "category_id=nope",
        f"category_id={cid.hex}",
        "q=a&q=b",
        "unknown=1",
        "q=" + "x" * 65,
        "q=%FF",
    ]
    for query in refused:
        assert parse_search_query(query) is None, query
