"""The mini-program server API as WeChat serves it (``api.weixin.qq.com``).

Answers are HTTP 200 with ``errcode``/``errmsg`` on failure. ``jscode2session`` succeeds
without ``errcode`` and, like the real one, says ``text/plain``: clients must parse JSON
whatever the content type.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from wechat_sim.errors import WeChatFault, error_response, fault
from wechat_sim.jsonbody import json_response, read_json_object
from wechat_sim.miniprogram.state import MiniProgram


def miniprogram_router(mp: MiniProgram) -> APIRouter:
    router = APIRouter(tags=["mini-program API"])

    @router.get("/sns/jscode2session")
    async def jscode2session(
        appid: str | None = None,
        secret: str | None = None,
        js_code: str | None = None,
        grant_type: str | None = None,
    ) -> Response:
        try:
            if grant_type != "authorization_code":
                raise fault(40002)
            user = mp.code2session(appid, secret, js_code)
        except WeChatFault as exc:
            return error_response(exc, media_type="text/plain")
        body: dict[str, Any] = {"session_key": user.session_key, "openid": user.openid}
        if user.unionid:
            body["unionid"] = user.unionid
        return json_response(body, media_type="text/plain")

    @router.post("/cgi-bin/stable_token")
    async def stable_token(request: Request) -> Response:
        try:
            body = await read_json_object(request)
            if body is None:
                raise fault(47001)
            if body.get("grant_type") != "client_credential":
                raise fault(40002)
            token = mp.stable_token(
                body.get("appid"), body.get("secret"), bool(body.get("force_refresh", False))
            )
        except WeChatFault as exc:
            return error_response(exc)
        expires_in = round(token.expires_at - mp.clock.now())
        return json_response({"access_token": token.value, "expires_in": expires_in})

    @router.post("/wxa/business/getuserphonenumber")
    async def getuserphonenumber(request: Request, access_token: str | None = None) -> Response:
        try:
            mp.check_fault("getuserphonenumber")
            mp.check_token(access_token)
            body = await read_json_object(request)
            if body is None or not isinstance(body.get("code"), str):
                raise fault(47001)
            issued = mp.phone_number(body["code"])
        except WeChatFault as exc:
            return error_response(exc)
        return json_response(
            {
                "errcode": 0,
                "errmsg": "ok",
                "phone_info": {
                    "phoneNumber": (
                        issued.phone_number
                        if issued.country_code == "86"
                        else f"+{issued.country_code}{issued.phone_number}"
                    ),
                    "purePhoneNumber": issued.phone_number,
                    "countryCode": int(issued.country_code),
                    "watermark": {"timestamp": int(mp.clock.now()), "appid": mp.settings.appid},
                },
            }
        )

    @router.post("/cgi-bin/message/subscribe/send")
    async def subscribe_send(request: Request, access_token: str | None = None) -> Response:
        try:
            mp.check_token(access_token)
            body = await read_json_object(request)
            if body is None:
                raise fault(47001)
            message = mp.send_message(body)
        except WeChatFault as exc:
            return error_response(exc)
        return json_response({"errcode": 0, "errmsg": "ok", "msgid": message.msgid})

    return router
