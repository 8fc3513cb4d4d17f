"""WeChat Pay's callbacks (public at the gateway, which forwards the raw body and headers):
``POST /api/v1/payments/wechat/notify`` and ``…/refund-notify``.

The one exception to our error shape: WeChat reads only the status, and a failure must be
4xx/5xx with ``{"code": "FAIL", "message": …}`` so that it retries. Success is 204.
"""

from collections.abc import Awaitable, Callable, Iterable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from shared.db import SessionDep
from shared.logging import get_logger
from sqlalchemy.ext.asyncio import AsyncSession

from payment.deps import Services, ServicesDep
from payment.notifications import service
from payment.notifications.errors import NotificationRefused
from payment.notifications.service import Handled
from payment.wechatpay.errors import WeChatPayError, WeChatPaySignatureInvalid

log = get_logger(__name__)

router = APIRouter(prefix="/api/v1/payments/wechat", tags=["wechat pay callbacks"])

Handler = Callable[[AsyncSession, Services, Iterable[tuple[str, str]], bytes], Awaitable[Handled]]


def _fail(status: int, message: str) -> JSONResponse:
    return JSONResponse({"code": "FAIL", "message": message}, status_code=status)


async def _answer(
    kind: str, handle: Handler, request: Request, session: AsyncSession, services: Services
) -> Response:
    body = await request.body()
    try:
        handled = await handle(session, services, request.headers.items(), body)
    except NotificationRefused as exc:
        await session.rollback()
        log.warning(f"payment.{kind}_rejected", reason=exc.reason, message=exc.message)
        return _fail(exc.status, exc.message)
    except WeChatPayError as exc:
        await session.rollback()
        reason = exc.reason if isinstance(exc, WeChatPaySignatureInvalid) else exc.code
        log.warning(f"payment.{kind}_rejected", reason=reason)
        status = 401 if isinstance(exc, WeChatPaySignatureInvalid) else 400
        return _fail(status, exc.message[:200])
    except Exception as exc:  # the database away …: WeChat retries
        await session.rollback()
        log.exception(f"payment.{kind}_failed", error=repr(exc))
        return _fail(500, "internal error")
    if handled.refused is not None:  # recorded (committed), yet refused
        log.warning(f"payment.{kind}_rejected", reason=handled.refused.reason)
        return _fail(handled.refused.status, handled.refused.message)
    return Response(status_code=204)


@router.post("/notify", status_code=204, response_class=Response)
async def payment_notify(request: Request, session: SessionDep, services: ServicesDep) -> Response:
    return await _answer("notify", service.payment_notification, request, session, services)


@router.post("/refund-notify", status_code=204, response_class=Response)
async def refund_notify(request: Request, session: SessionDep, services: ServicesDep) -> Response:
    return await _answer("refund_notify", service.refund_notification, request, session, services)
