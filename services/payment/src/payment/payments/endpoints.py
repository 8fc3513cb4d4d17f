"""The member's side: ``POST /api/v1/payments/wechat/prepay``."""

from fastapi import APIRouter
from shared.db import SessionDep

from payment.deps import MemberIdDep, ServicesDep
from payment.payments import service
from payment.payments.schemas import PrepayIn, PrepayOut

router = APIRouter(prefix="/api/v1/payments/wechat", tags=["payments"])


@router.post("/prepay", response_model_by_alias=True)
async def prepay(
    body: PrepayIn, member_id: MemberIdDep, session: SessionDep, services: ServicesDep
) -> PrepayOut:
    """The ``wx.requestPayment`` fields for one of the member's unpaid orders."""
    return await service.prepay(session, services, member_id, body.order_id)
