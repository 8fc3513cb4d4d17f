"""Who is calling, as verified by the gateway and passed in internal headers.

The gateway verifies member and staff JWTs and supplier signatures, strips every
``X-Auth-*`` header that came from outside, and sets these on the request it forwards.
Services trust them because only the gateway (and other services, by NetworkPolicy) can
reach them. Endpoints declare what they need with the ``Annotated`` dependencies below.
"""

import uuid
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel

from shared.errors import AppError

AUTH_HEADER_PREFIX = "x-auth-"
MEMBER_ID_HEADER = "X-Auth-Member-Id"
STAFF_ID_HEADER = "X-Auth-Staff-Id"
STAFF_ROLES_HEADER = "X-Auth-Staff-Roles"  # comma-separated
SUPPLIER_ID_HEADER = "X-Auth-Supplier-Id"

STAFF_ROLES = ("admin", "operator", "customer_service", "finance")


class Unauthenticated(AppError):
    status_code = 401
    code = "unauthenticated"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class Member(BaseModel):
    member_id: str


class Staff(BaseModel):
    staff_id: str
    roles: frozenset[str]

    def has_any(self, roles: tuple[str, ...]) -> bool:
        return "admin" in self.roles or bool(self.roles.intersection(roles))


class Supplier(BaseModel):
    supplier_id: str


def _current_member(request: Request) -> Member:
    member_id = request.headers.get(MEMBER_ID_HEADER)
    if not member_id:
        raise Unauthenticated("A member access token is required.")
    return Member(member_id=member_id)


def _current_staff(request: Request) -> Staff:
    staff_id = request.headers.get(STAFF_ID_HEADER)
    if not staff_id:
        raise Unauthenticated("A staff access token is required.")
    roles = request.headers.get(STAFF_ROLES_HEADER, "")
    return Staff(staff_id=staff_id, roles=frozenset(r for r in roles.split(",") if r))


def _current_supplier(request: Request) -> Supplier:
    supplier_id = request.headers.get(SUPPLIER_ID_HEADER)
    if not supplier_id:
        raise Unauthenticated("A signed supplier request is required.")
    return Supplier(supplier_id=supplier_id)


def _current_member_id(member: "CurrentMember") -> uuid.UUID:
    try:
        return uuid.UUID(member.member_id)
    except ValueError as exc:
        raise Unauthenticated("The caller's identity is not valid.") from exc


CurrentMember = Annotated[Member, Depends(_current_member)]
# The member's id as a UUID (every service's member ids are UUIDs).
CurrentMemberId = Annotated[uuid.UUID, Depends(_current_member_id)]
CurrentStaff = Annotated[Staff, Depends(_current_staff)]
CurrentSupplier = Annotated[Supplier, Depends(_current_supplier)]


def require_roles(*roles: str) -> Any:
    """``dependencies=[require_roles("finance")]``: staff with one of ``roles`` (or admin)."""

    def check(staff: CurrentStaff) -> Staff:
        if not staff.has_any(roles):
            raise Forbidden(f"This needs one of the roles: {', '.join(roles)}.")
        return staff

    return Depends(check)
