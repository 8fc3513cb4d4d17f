"""``make demo``: walk a shopper through the suite started by ``make run``, through the gateway.

Each step prints what it sent and what came back. Steps that need a service not built yet
say so and stop there, instead of pretending.
"""

import json
import os
import sys
import time
import uuid
from typing import Any

import httpx

GATEWAY = os.environ.get("MINIMALL_GATEWAY_URL", "http://127.0.0.1:8000")
SIMULATOR = os.environ.get("MINIMALL_WECHAT_SIM_URL", "http://127.0.0.1:8900")


class Demo:
    def __init__(self) -> None:
        self.http = httpx.Client(timeout=15)
        self.token = ""
        self.step_no = 0

    def step(self, title: str) -> None:
        self.step_no += 1
        print(f"\n{self.step_no}. {title}")

    def call(
        self, method: str, url: str, *, expect: int = 200, auth: bool = True, **kwargs: Any
    ) -> Any:
        headers = kwargs.pop("headers", {})
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        response = self.http.request(method, url, headers=headers, **kwargs)
        shown = url.replace(GATEWAY, "").replace(SIMULATOR, "[wechat]")
        print(f"   {method} {shown} → {response.status_code}")
        body = response.json() if response.content else None
        if response.status_code != expect:
            print("   " + json.dumps(body, ensure_ascii=False)[:600])
            raise SystemExit(f"demo stopped: expected {expect}")
        return body


def main() -> None:
    d = Demo()
    d.step("WeChat: wx.login gives the mini-program a code (sandbox)")
    code = d.call("POST", f"{SIMULATOR}/sandbox/login-code", json={}, auth=False)["code"]
    print(f"   code {code}")

    d.step("Log in with the code")
    login = d.call("POST", f"{GATEWAY}/api/v1/auth/wechat/login", json={"code": code}, auth=False)
    d.token = login["access_token"]
    print(f"   member {login['member']['id']}, access token for {login['expires_in']} s")

    d.step("Browse the catalog")
    products = d.call("GET", f"{GATEWAY}/api/v1/catalog/products", params={"page_size": 5})
    if not products["items"]:
        raise SystemExit("the catalog is empty: is `make run` seeding it?")
    for p in products["items"][:5]:
        print(f"   {p.get('name')}  {p.get('min_price_fen', p.get('price_fen', ''))} fen")
    product_id = products["items"][0]["id"]

    d.step("Open a product")
    detail = d.call("GET", f"{GATEWAY}/api/v1/catalog/products/{product_id}")
    sku = next((s for s in detail["skus"] if s["stock"] > 0), None)
    if sku is None:
        raise SystemExit("that product is sold out")
    print(f"   {detail['name']}: sku {sku['id']} {sku['specs']} {sku['price_fen']} fen")

    d.step("Put it in the cart")
    cart = d.call("PUT", f"{GATEWAY}/api/v1/cart/items/{sku['id']}", json={"quantity": 1})
    print(f"   {len(cart['items'])} line(s), {cart['selected_goods_fen']} fen selected")

    d.step("Add a delivery address")
    address = d.call(
        "POST",
        f"{GATEWAY}/api/v1/members/me/addresses",
        expect=201,
        json={
            "recipient_name": "张三",
            "phone": "13812345678",
            "province": "上海市",
            "city": "上海市",
            "district": "浦东新区",
            "detail": "世纪大道 100 号",
            "postal_code": "200120",
        },
    )

    checkout = {"items": [{"sku_id": sku["id"], "quantity": 1}], "address_id": address["id"]}
    d.step("Preview the order (prices from catalog, discounts, freight)")
    preview = d.call("POST", f"{GATEWAY}/api/v1/orders/preview", json=checkout)
    for discount in preview["discounts"]:
        print(f"   - {discount['rule']}: -{discount['amount_fen']} fen")
    goods, freight, total = preview["goods_fen"], preview["freight_fen"], preview["total_fen"]
    print(f"   goods {goods} + freight {freight} → {total} fen")

    d.step("Create the order (Idempotency-Key)")
    key = str(uuid.uuid4())
    order = d.call(
        "POST",
        f"{GATEWAY}/api/v1/orders",
        expect=201,
        json={**checkout, "from_cart": True},
        headers={"Idempotency-Key": key},
    )
    print(f"   order {order['order_id']}: {order['status']}, {order['total_fen']} fen")
    again = d.call(
        "POST",
        f"{GATEWAY}/api/v1/orders",
        expect=201,
        json={**checkout, "from_cart": True},
        headers={"Idempotency-Key": key},
    )
    print(f"   the same key again: the same order {again['order_id']}")

    d.step("Prepay with WeChat Pay (amount and deadline from the order, never the client)")
    params = d.call(
        "POST", f"{GATEWAY}/api/v1/payments/wechat/prepay", json={"order_id": order["order_id"]}
    )
    print(f"   wx.requestPayment: package {params['package']}, signType {params['signType']}")
    prepay_id = params["package"].removeprefix("prepay_id=")

    d.step("WeChat: the shopper pays (sandbox); WeChat notifies payment through the gateway")
    paid = d.call("POST", f"{SIMULATOR}/sandbox/pay", json={"prepay_id": prepay_id}, auth=False)
    print(f"   transaction {paid['transaction_id']}")

    d.step("Wait until the order is paid (payment.succeeded → order)")
    deadline = time.monotonic() + 60
    status = order["status"]
    while time.monotonic() < deadline:
        status = d.http.get(
            f"{GATEWAY}/api/v1/orders/{order['order_id']}",
            headers={"Authorization": f"Bearer {d.token}"},
        ).json()["status"]
        if status == "paid":
            break
        time.sleep(0.5)
    if status != "paid":
        raise SystemExit(f"demo stopped: the order is still {status} after 60 s")
    print(f"   order {order['order_id']}: paid")
    print("\nThe order is paid; staff ship it next (/admin/v1/orders/{id}/ship).")


if __name__ == "__main__":
    try:
        main()
    except httpx.TransportError as exc:
        sys.exit(f"cannot reach the suite ({exc}); start it with `make run`")
