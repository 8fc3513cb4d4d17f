"""The WeChat mini-program server API (``api.weixin.qq.com``; the base URL is a setting).

- Bodies are parsed as JSON whatever their Content-Type; a missing ``errcode`` means 0.
- The access token comes from ``stable_token``, cached per process and refreshed early
  (``refresh_margin_s`` before it expires), one refresh at a time; a call refused with
  40001/42001 refreshes it and retries once.
- Nothing here logs a body: they carry session keys and phone numbers.
"""

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, Field, field_validator
from shared.logging import get_logger

from member.wechat.errors import WeChatTokenRejected, error_for, unavailable

log = get_logger(__name__)

T = TypeVar("T")


class WeChatSession(BaseModel):
    openid: str
    session_key: str
    unionid: str | None = None


class PhoneInfo(BaseModel):
    phone_number: str = Field(alias="phoneNumber")
    pure_phone_number: str = Field(alias="purePhoneNumber")
    country_code: str = Field(alias="countryCode")

    @field_validator("country_code", mode="before")
    @classmethod
    def _country_code_as_text(cls, value: object) -> str:
        return str(value)  # 86 in the example, "86" in the table: accept both


class WeChatClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        appid: str,
        secret: str,
        refresh_margin_s: float = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._appid = appid
        self._secret = secret
        self._margin = refresh_margin_s
        self._clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()
        self.token_fetches = 0

    async def _call(self, api: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            log.warning("wechat.unreachable", api=api, error=type(exc).__name__)
            raise unavailable(f"WeChat is unreachable ({api}).") from exc
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            log.warning("wechat.unreadable", api=api, status=response.status_code)
            raise unavailable(f"WeChat answered {response.status_code} without JSON ({api}).")
        errcode = int(body.get("errcode") or 0)
        if errcode != 0:
            errmsg = str(body.get("errmsg", ""))
            log.info("wechat.error", api=api, errcode=errcode, errmsg=errmsg[:200])
            raise error_for(errcode, errmsg, api)
        if response.status_code >= 400:
            raise unavailable(f"WeChat answered {response.status_code} ({api}).")
        return body

    async def code2session(self, code: str) -> WeChatSession:
        body = await self._call(
            "jscode2session",
            "GET",
            "/sns/jscode2session",
            params={
                "appid": self._appid,
                "secret": self._secret,
                "js_code": code,
                "grant_type": "authorization_code",
            },
        )
        return WeChatSession.model_validate(body)

    # -- access token ----------------------------------------------------------------------

    def _fresh(self) -> bool:
        return self._token is not None and self._clock() < self._refresh_at

    async def access_token(self) -> str:
        if self._fresh():
            assert self._token is not None
            return self._token
        async with self._lock:  # single flight: the others wait and reuse its result
            if not self._fresh():
                await self._fetch_token(force=False)
            assert self._token is not None
            return self._token

    async def _fetch_token(self, *, force: bool) -> None:
        started = self._clock()
        self.token_fetches += 1
        body = await self._call(
            "stable_token",
            "POST",
            "/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": self._appid,
                "secret": self._secret,
                "force_refresh": force,
            },
        )
        expires_in = float(body["expires_in"])
        self._token = str(body["access_token"])
        # Refresh `margin` early; a token handed out near its end is still used for half its life.
        self._refresh_at = started + max(expires_in - self._margin, expires_in / 2)
        log.info("wechat.token_refreshed", expires_in=int(expires_in), forced=force)

    async def _renew_after_rejection(self, rejected: str) -> None:
        async with self._lock:
            if self._token != rejected:
                return  # someone already renewed it
            await self._fetch_token(force=False)
            if self._token == rejected:  # WeChat still hands out the refused one
                await self._fetch_token(force=True)

    async def _with_token(self, call: Callable[[str], Awaitable[T]]) -> T:
        token = await self.access_token()
        try:
            return await call(token)
        except WeChatTokenRejected:
            await self._renew_after_rejection(token)
            return await call(await self.access_token())

    # -- calls that need the token -----------------------------------------------------------

    async def phone_number(self, code: str, openid: str | None = None) -> PhoneInfo:
        payload: dict[str, Any] = {"code": code}
        if openid:
            payload["openid"] = openid

        async def call(token: str) -> PhoneInfo:
            body = await self._call(
                "getuserphonenumber",
                "POST",
                "/wxa/business/getuserphonenumber",
                params={"access_token": token},
                json=payload,
            )
            return PhoneInfo.model_validate(body["phone_info"])

        return await self._with_token(call)

    async def send_subscribe_message(
        self,
        *,
        touser: str,
        template_id: str,
        data: dict[str, str],
        page: str | None = None,
        miniprogram_state: str = "formal",
        lang: str = "zh_CN",
    ) -> int:
        payload: dict[str, Any] = {
            "touser": touser,
            "template_id": template_id,
            "miniprogram_state": miniprogram_state,
            "lang": lang,
            "data": {key: {"value": value} for key, value in data.items()},
        }
        if page:
            payload["page"] = page

        async def call(token: str) -> int:
            body = await self._call(
                "subscribe_send",
                "POST",
                "/cgi-bin/message/subscribe/send",
                params={"access_token": token},
                json=payload,
            )
            return int(body["msgid"])

        return await self._with_token(call)
