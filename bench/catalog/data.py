"""A generated Chinese catalog for the bench: 20 categories, 10,000 products, 2 SKUs each,
search columns derived exactly as the service derives them."""

import random
import uuid
from typing import Any

from catalog.models import Category, Product, SearchTerm, Sku
from catalog.search.text import index_product, latin_words
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

ROOTS = {
    "服装": ["女装", "男装", "童装", "内衣"],
    "数码": ["手机", "耳机", "电脑", "配件"],
    "食品": ["茶叶", "零食", "粮油", "咖啡"],
    "美妆": ["护肤", "彩妆", "香水", "洗护"],
    "家居": ["床品", "厨具", "灯具", "收纳"],
}
NOUNS = {
    "女装": ["连衣裙", "半身裙", "针织衫", "风衣"],
    "男装": ["衬衫", "T恤", "牛仔裤", "夹克"],
    "童装": ["卫衣", "羽绒服", "背带裤", "睡衣"],
    "内衣": ["文胸", "睡裙", "袜子", "保暖内衣"],
    "手机": ["手机", "折叠屏手机", "老人机", "游戏手机"],
    "耳机": ["蓝牙耳机", "降噪耳机", "头戴耳机", "运动耳机"],
    "电脑": ["笔记本电脑", "平板电脑", "机械键盘", "无线鼠标"],
    "配件": ["手机壳", "数据线", "充电宝", "钢化膜"],
    "茶叶": ["龙井", "普洱", "铁观音", "红茶"],
    "零食": ["坚果", "牛肉干", "饼干", "巧克力"],
    "粮油": ["大米", "花生油", "面粉", "小米"],
    "咖啡": ["咖啡豆", "挂耳咖啡", "速溶咖啡", "冷萃咖啡"],
    "护肤": ["面霜", "精华液", "面膜", "防晒霜"],
    "彩妆": ["口红", "粉底液", "眼影", "眉笔"],
    "香水": ["香水", "香氛", "淡香水", "车载香薰"],
    "洗护": ["洗发水", "沐浴露", "护发素", "牙膏"],
    "床品": ["四件套", "枕头", "被子", "床垫"],
    "厨具": ["炒锅", "保温杯", "菜刀", "电饭煲"],
    "灯具": ["台灯", "吸顶灯", "落地灯", "小夜灯"],
    "收纳": ["收纳箱", "衣架", "置物架", "鞋柜"],
}
ADJECTIVES = [
    "法式",
    "复古",
    "韩版",
    "简约",
    "加厚",
    "轻薄",
    "纯棉",
    "真丝",
    "碎花",
    "修身",
    "新款",
    "经典",
    "便携",
    "大容量",
    "高端",
    "家用",
    "进口",
    "有机",
    "无糖",
    "时尚",
]
BRANDS = [
    "Apple",
    "Huawei",
    "Xiaomi",
    "Sony",
    "Nike",
    "Adidas",
    "Lenovo",
    "Philips",
    "Dyson",
    "Uniqlo",
    "华为",
    "小米",
    "海尔",
    "美的",
    "李宁",
    "安踏",
    "良品铺子",
    "三只松鼠",
    "",
    "",
]
PRODUCTS = 10_000
CHUNK = 1000


def vocabulary() -> list[str]:
    """Queries of every kind the bench sends: words, pinyin, initials, typos, brands."""
    words = [n for nouns in NOUNS.values() for n in nouns]
    return [
        *words,
        *ADJECTIVES[:10],
        *(f"{a}{n}" for a, n in zip(ADJECTIVES, words, strict=False)),
        "lianyiqun",
        "lyq",
        "连衣群",
        "shouji",
        "sj",
        "lanyaerji",
        "lyej",
        "kafeidou",
        "iphnoe",
        "xiaomi",
        "huawie",
        "sony",
        "nkie",
        "adidas",
        "lenvoo",
        "dyson",
        "apple 手机",
        "小米 耳机",
        "华为 手机壳",
        "纯棉 四件套",
    ]


async def generate(engine: AsyncEngine) -> list[uuid.UUID]:
    """Fill the catalog; returns the product ids."""
    rng = random.Random(20240601)
    categories: list[dict[str, Any]] = []
    leaves: dict[str, uuid.UUID] = {}
    for order, (root, children) in enumerate(ROOTS.items()):
        root_id = uuid.uuid4()
        categories.append(
            {"id": root_id, "parent_id": None, "path": [root_id], "name": root, "sort_order": order}
        )
        for child_order, child in enumerate(children):
            child_id = leaves[child] = uuid.uuid4()
            categories.append(
                {
                    "id": child_id,
                    "parent_id": root_id,
                    "path": [root_id, child_id],
                    "name": child,
                    "sort_order": child_order,
                }
            )
    products: list[dict[str, Any]] = []
    skus: list[dict[str, Any]] = []
    terms: set[str] = set()
    leaf_names = list(leaves)
    for i in range(PRODUCTS):
        leaf = leaf_names[i % len(leaf_names)]
        brand = rng.choice(BRANDS)
        name = f"{brand} {rng.choice(ADJECTIVES)}{rng.choice(NOUNS[leaf])} {rng.randint(1, 99)}号"
        name = name.strip()
        indexed = index_product(name, None, leaf, "")
        terms |= latin_words(name)
        price = rng.randint(10, 5000) * 100
        product_id = uuid.uuid4()
        products.append(
            {
                "id": product_id,
                "name": name,
                "subtitle": "",
                "description": "",
                "category_id": leaves[leaf],
                "status": "on_sale",
                "specs": [{"name": "规格", "values": ["标准", "豪华"]}],
                "images": [f"https://img.example/{i}.jpg"],
                "price_fen": price,
                "market_price_fen": price * 13 // 10,
                "sales_count": rng.randint(0, 5000),
                "search_name": indexed.name,
                "search_text": indexed.text,
                "search_pinyin": indexed.pinyin,
                "search_initials": indexed.initials,
            }
        )
        for n, spec in enumerate(("标准", "豪华")):
            skus.append(
                {
                    "id": uuid.uuid4(),
                    "product_id": product_id,
                    "specs": {"规格": spec},
                    "price_fen": price + n * 1000,
                    "market_price_fen": (price + n * 1000) * 13 // 10,
                    "weight_g": 500,
                    "active": True,
                    "available": rng.randint(0, 200),
                    "reserved": 0,
                    "sold": 0,
                }
            )
    async with engine.begin() as conn:
        await conn.execute(insert(Category), categories)
        for start in range(0, len(products), CHUNK):
            await conn.execute(insert(Product), products[start : start + CHUNK])
        for start in range(0, len(skus), CHUNK):
            await conn.execute(insert(Sku), skus[start : start + CHUNK])
        await conn.execute(insert(SearchTerm), [{"term": t} for t in sorted(terms)])
        await conn.exec_driver_sql("ANALYZE")
    return [p["id"] for p in products]
