"""``python -m catalog.seed`` (run by ``make run``): a demo shop of 5 categories, brands and
22 products with Chinese names, each with several SKUs and stock.

Idempotent: a catalog that already has products is left as it is.
"""

import asyncio
import itertools
from dataclasses import dataclass

from shared.db import create_engine, create_sessionmaker
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.brands.schemas import BrandCreate
from catalog.brands.service import create as create_brand
from catalog.categories.schemas import CategoryCreate
from catalog.categories.service import create as create_category
from catalog.models import Product
from catalog.products.schemas import ProductCreate, SkuCreate, SpecDef
from catalog.products.service import create as create_product
from catalog.settings import CatalogSettings

CATEGORIES = {
    "服装": ["女装", "男装"],
    "数码": ["手机", "配件"],
    "食品": ["茶叶", "零食"],
    "美妆": ["护肤", "彩妆"],
    "家居": ["床品", "厨具"],
}
BRANDS = ["Apple", "华为", "小米", "西湖", "良品铺子", "自然堂"]
SIZES = ["S", "M", "L"]


@dataclass(frozen=True)
class Demo:
    category: str
    name: str
    subtitle: str
    price_fen: int
    specs: dict[str, list[str]]
    brand: str | None = None


PRODUCTS = [
    Demo(
        "女装", "法式碎花连衣裙", "收腰显瘦 夏季新款", 19900, {"颜色": ["红", "蓝"], "尺码": SIZES}
    ),
    Demo("女装", "真丝连衣裙", "桑蚕丝 垂感", 59900, {"颜色": ["黑", "白"], "尺码": SIZES}),
    Demo("女装", "针织开衫", "软糯羊毛混纺", 25900, {"颜色": ["米白", "燕麦"], "尺码": ["M", "L"]}),
    Demo("男装", "纯棉圆领T恤", "新疆长绒棉", 7900, {"颜色": ["白", "黑", "灰"], "尺码": SIZES}),
    Demo("男装", "休闲牛仔裤", "直筒弹力", 19900, {"尺码": ["30", "32", "34"]}),
    Demo(
        "手机",
        "Apple iPhone 15",
        "A16 仿生芯片",
        599900,
        {"颜色": ["黑色", "白色"], "容量": ["128G", "256G"]},
        "Apple",
    ),
    Demo(
        "手机",
        "华为 Mate 60 Pro",
        "卫星通话",
        699900,
        {"颜色": ["雅川青", "雅丹黑"], "容量": ["256G", "512G"]},
        "华为",
    ),
    Demo("手机", "小米14", "徕卡光学镜头", 399900, {"颜色": ["黑色", "白色", "岩石青"]}, "小米"),
    Demo("配件", "iPhone 15 硅胶手机壳", "MagSafe 磁吸", 9900, {"颜色": ["粉", "蓝", "黑"]}),
    Demo("配件", "无线蓝牙耳机", "主动降噪 长续航", 29900, {"颜色": ["白", "黑"]}, "小米"),
    Demo("配件", "快充数据线", "USB-C 编织线", 2900, {"长度": ["1米", "2米"]}),
    Demo("茶叶", "西湖龙井茶叶", "明前特级 250克", 36800, {"规格": ["罐装", "礼盒装"]}, "西湖"),
    Demo("茶叶", "云南普洱熟茶", "勐海古树 357克", 16800, {"规格": ["单饼", "三饼"]}),
    Demo("零食", "每日坚果礼盒", "30袋 混合果仁", 12900, {"规格": ["750克", "1050克"]}, "良品铺子"),
    Demo("零食", "手撕牛肉干", "内蒙古风干", 5900, {"口味": ["原味", "香辣", "孜然"]}, "良品铺子"),
    Demo("护肤", "保湿面霜", "补水修护 50毫升", 16900, {"规格": ["50毫升", "100毫升"]}, "自然堂"),
    Demo("护肤", "防晒霜", "SPF50+ 清爽不油腻", 8900, {"规格": ["30毫升", "60毫升"]}, "自然堂"),
    Demo("彩妆", "丝绒口红", "哑光 显白", 12900, {"色号": ["正红", "豆沙", "枫叶"]}),
    Demo(
        "床品",
        "纯棉四件套",
        "60支长绒棉",
        39900,
        {"颜色": ["灰", "蓝"], "尺寸": ["1.5米", "1.8米"]},
    ),
    Demo("床品", "记忆棉枕头", "慢回弹 护颈", 15900, {"高度": ["低枕", "高枕"]}),
    Demo("厨具", "不锈钢保温杯", "316不锈钢 长效保温", 8900, {"容量": ["350毫升", "500毫升"]}),
    Demo("厨具", "不粘炒锅", "麦饭石涂层 无油烟", 22900, {"尺寸": ["30厘米", "32厘米"]}),
]


def skus_of(demo: Demo) -> list[SkuCreate]:
    names = list(demo.specs)
    return [
        SkuCreate(
            specs=dict(zip(names, values, strict=True)),
            price_fen=demo.price_fen + i * 1000,
            market_price_fen=(demo.price_fen + i * 1000) * 13 // 10,
            weight_g=300,
            stock=100 + 20 * i,
        )
        for i, values in enumerate(itertools.product(*(demo.specs[n] for n in names)))
    ]


async def seed_catalog(session: AsyncSession) -> None:
    categories = {}
    for order, (root, children) in enumerate(CATEGORIES.items()):
        parent = await create_category(session, CategoryCreate(name=root, sort_order=order))
        for child_order, child in enumerate(children):
            categories[child] = await create_category(
                session, CategoryCreate(name=child, parent_id=parent.id, sort_order=child_order)
            )
    brands = {name: await create_brand(session, BrandCreate(name=name)) for name in BRANDS}
    for number, demo in enumerate(PRODUCTS, start=1):
        await create_product(
            session,
            ProductCreate(
                name=demo.name,
                subtitle=demo.subtitle,
                description=f"{demo.name}:{demo.subtitle}。",
                category_id=categories[demo.category].id,
                brand_id=brands[demo.brand].id if demo.brand else None,
                status="on_sale",
                specs=[SpecDef(name=n, values=v) for n, v in demo.specs.items()],
                images=[f"https://img.minimall.test/demo/{number:03d}.jpg"],
                skus=skus_of(demo),
            ),
            actor="seed",
        )


async def seed(settings: CatalogSettings) -> None:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            if await session.scalar(select(Product.id).limit(1)) is None:
                await seed_catalog(session)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(seed(CatalogSettings()))
