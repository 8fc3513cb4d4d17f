"""The WeChat simulator behaves like the mini-program API, and member's client maps it.

Both run in-process here (httpx.ASGITransport); tests/test_member_api.py uses the real
simulator process.
"""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from member.wechat.client import WeChatClient
from member.wechat.errors import (
    WeChatCodeInvalid,
    WeChatInvalidArgument,
    WeChatNotSubscribed,
    WeChatRateLimited,
    WeChatRejected,
    WeChatUnavailable,
    WeChatUserBlocked,
)
from shared.errors import AppError
from wechat_sim.main import create_app
from wechat_sim.settings import DEV_APPID, DEV_SECRET, SimSettings


@pytest.fixture
async def sim() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SimSettings(user_quota_per_minute=3))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://wechat") as client:
        yield client


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(sim: httpx.AsyncClient, clock: FakeClock) -> WeChatClient:
    return WeChatClient(sim, appid=DEV_APPID, secret=DEV_SECRET, clock=clock)


async def code_for(sim: httpx.AsyncClient, openid: str = "o-user-1") -> str:
    return str((await sim.post("/sandbox/login-code", json={"openid": openid})).json()["code"])


async def jscode2session(sim: httpx.AsyncClient, code: str, **over: str) -> httpx.Response:
    params = {
        "appid": DEV_APPID,
        "secret": DEV_SECRET,
        "js_code": code,
        "grant_type": "authorization_code",
        **over,
    }
    return await sim.get("/sns/jscode2session", params=params)


# -- the simulator ------------------------------------------------------------------------


async def test_jscode2session_success_has_no_errcode_and_says_text_plain(
    sim: httpx.AsyncClient,
) -> None:
    response = await jscode2session(sim, await code_for(sim))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    body = response.json()
    assert "errcode" not in body
    assert body["openid"] == "o-user-1" and body["session_key"] and body["unionid"]


async def test_codes_are_single_use_and_expire_after_five_minutes(sim: httpx.AsyncClient) -> None:
    code = await code_for(sim)
    assert "errcode" not in (await jscode2session(sim, code)).json()
    reused = (await jscode2session(sim, code)).json()
    assert reused["errcode"] == 40163
    assert "rid:" in reused["errmsg"]
    fresh = await code_for(sim)
    await sim.post("/sandbox/clock", json={"seconds": 299})
    assert "errcode" not in (await jscode2session(sim, fresh)).json()
    stale = await code_for(sim)
    await sim.post("/sandbox/clock", json={"seconds": 301})
    assert (await jscode2session(sim, stale)).json()["errcode"] == 40029
    assert (await jscode2session(sim, "nonsense")).json()["errcode"] == 40029


async def test_wrong_appid_or_secret(sim: httpx.AsyncClient) -> None:
    assert (await jscode2session(sim, await code_for(sim), appid="wx0")).json()["errcode"] == 40013
    assert (await jscode2session(sim, await code_for(sim), secret="x")).json()["errcode"] == 40125


async def test_per_user_minute_quota(sim: httpx.AsyncClient) -> None:
    for _ in range(3):
        assert "errcode" not in (await jscode2session(sim, await code_for(sim, "o-busy"))).json()
    limited = await code_for(sim, "o-busy")
    assert (await jscode2session(sim, limited)).json()["errcode"] == 45011
    assert "errcode" not in (await jscode2session(sim, await code_for(sim, "o-calm"))).json()
    await sim.post("/sandbox/clock", json={"seconds": 60})
    assert "errcode" not in (await jscode2session(sim, limited)).json()  # not consumed by 45011


async def test_stable_token_is_stable_then_renewed_with_overlap(sim: httpx.AsyncClient) -> None:
    body = {"grant_type": "client_credential", "appid": DEV_APPID, "secret": DEV_SECRET}
    first = (await sim.post("/cgi-bin/stable_token", json=body)).json()
    assert first["expires_in"] == 7200 and len(first["access_token"]) >= 100
    same = (await sim.post("/cgi-bin/stable_token", json=body)).json()
    assert same["access_token"] == first["access_token"]
    await sim.post("/sandbox/clock", json={"seconds": 7000})
    renewed = (await sim.post("/cgi-bin/stable_token", json=body)).json()
    assert renewed["access_token"] != first["access_token"] and renewed["expires_in"] == 7200
    # Both work during the overlap.
    for token in (first["access_token"], renewed["access_token"]):
        sent = await sim.post(
            "/cgi-bin/message/subscribe/send", params={"access_token": token}, content=b"x"
        )
        assert sent.json()["errcode"] == 47001  # past the token check
    forced = (await sim.post("/cgi-bin/stable_token", json={**body, "force_refresh": True})).json()
    assert forced["access_token"] != renewed["access_token"]
    too_soon = (
        await sim.post("/cgi-bin/stable_token", json={**body, "force_refresh": True})
    ).json()
    assert too_soon["errcode"] == 45009
    old = await sim.post(
        "/cgi-bin/message/subscribe/send",
        params={"access_token": renewed["access_token"]},
        json={},
    )
    assert old.json()["errcode"] == 40001  # a forced refresh invalidates the previous token


# -- member's client against it -----------------------------------------------------------


async def test_client_code2session(sim: httpx.AsyncClient, client: WeChatClient) -> None:
    session = await client.code2session(await code_for(sim, "o-client"))
    assert session.openid == "o-client" and session.session_key
    with pytest.raises(WeChatCodeInvalid):
        await client.code2session("nonsense")


@pytest.mark.parametrize(
    ("errcode", "error", "status"),
    [
        (40029, WeChatCodeInvalid, 401),
        (45011, WeChatRateLimited, 429),
        (40226, WeChatUserBlocked, 403),
        (-1, WeChatUnavailable, 503),
        (40013, WeChatRejected, 502),
    ],
)
async def test_client_maps_login_error_codes(
    sim: httpx.AsyncClient,
    client: WeChatClient,
    errcode: int,
    error: type[AppError],
    status: int,
) -> None:
    await sim.post("/sandbox/faults", json={"api": "jscode2session", "errcode": errcode})
    with pytest.raises(error) as raised:
        await client.code2session(await code_for(sim))
    assert raised.value.status_code == status


async def test_unreachable_or_garbled_wechat_is_unavailable() -> None:
    def garbled(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>bad gateway</html>")

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    for handler in (garbled, down):
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://wx")
        async with http:
            with pytest.raises(WeChatUnavailable):
                await WeChatClient(http, appid="a", secret="b").code2session("c")


async def test_access_token_is_cached_single_flight_and_refreshed_early(
    sim: httpx.AsyncClient, client: WeChatClient, clock: FakeClock
) -> None:
    tokens = await asyncio.gather(*(client.access_token() for _ in range(20)))
    assert len(set(tokens)) == 1
    assert client.token_fetches == 1
    assert (await sim.get("/sandbox/stats")).json()["stable_token"] == 1
    clock.now += 7200 - 301  # still more than the margin left: cached
    assert await client.access_token() == tokens[0]
    assert client.token_fetches == 1
    clock.now += 2  # inside the last 5 minutes: refreshed before it expires
    await sim.post("/sandbox/clock", json={"seconds": 7200 - 299})
    renewed = await client.access_token()
    assert client.token_fetches == 2 and renewed != tokens[0]


async def test_phone_number_and_a_stale_token_retried_once(
    sim: httpx.AsyncClient, client: WeChatClient
) -> None:
    await client.access_token()
    body = {"grant_type": "client_credential", "appid": DEV_APPID, "secret": DEV_SECRET}
    await sim.post("/cgi-bin/stable_token", json={**body, "force_refresh": True})  # elsewhere
    code = (
        await sim.post("/sandbox/phone-code", json={"openid": "o-p", "phone_number": "13700001111"})
    ).json()["code"]
    info = await client.phone_number(code, "o-p")
    assert (info.phone_number, info.pure_phone_number, info.country_code) == (
        "13700001111",
        "13700001111",
        "86",
    )
    assert client.token_fetches == 2
    with pytest.raises(WeChatCodeInvalid):
        await client.phone_number(code)  # single use


async def test_subscribe_message_needs_consent_each_time(
    sim: httpx.AsyncClient, client: WeChatClient
) -> None:
    await code_for(sim, "o-sub")
    message = {"touser": "o-sub", "template_id": "TPL_order_paid", "data": {"thing1": "订单已支付"}}
    with pytest.raises(WeChatNotSubscribed):
        await client.send_subscribe_message(**message)  # type: ignore[arg-type]
    await sim.post(
        "/sandbox/subscriptions", json={"openid": "o-sub", "template_id": "TPL_order_paid"}
    )
    msgid = await client.send_subscribe_message(**message, page="pages/order?id=1")  # type: ignore[arg-type]
    assert msgid > 0
    sent = (await sim.get("/sandbox/messages", params={"openid": "o-sub"})).json()
    assert sent[0]["data"] == {"thing1": {"value": "订单已支付"}}
    with pytest.raises(WeChatNotSubscribed):
        await client.send_subscribe_message(**message)  # type: ignore[arg-type]
    await sim.post(
        "/sandbox/subscriptions", json={"openid": "o-sub", "template_id": "TPL_order_paid"}
    )
    with pytest.raises(WeChatInvalidArgument):
        await client.send_subscribe_message(
            touser="o-sub", template_id="TPL_order_paid", data={"thing1": "很" * 21}
        )
