"""What the mini-program platform remembers: users, codes, access tokens, subscriptions.

Everything lives in memory: one simulator process stands for WeChat in one dev run or one
test session.
"""

import base64
import hashlib
import re
import secrets
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from wechat_sim.clock import Clock
from wechat_sim.errors import WeChatFault, fault
from wechat_sim.settings import SimSettings


@dataclass
class User:
    openid: str
    unionid: str | None
    session_key: str = ""


@dataclass
class IssuedCode:
    code: str
    openid: str
    issued_at: float
    used: bool = False
    phone_number: str = ""
    country_code: str = "86"


@dataclass
class AccessToken:
    value: str
    expires_at: float


@dataclass
class InjectedFault:
    """An error the sandbox asked for: the next ``times`` calls of ``api`` answer ``errcode``
    (``times`` 0: until cleared), only for ``openid`` when given."""

    api: str
    errcode: int
    times: int
    openid: str | None


@dataclass
class SentMessage:
    msgid: int
    touser: str
    template_id: str
    page: str | None
    data: dict[str, Any]
    sent_at: float


_OPENID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


_TEMPLATE_ID = re.compile(r"[A-Za-z0-9_\-]{6,64}")


def new_openid() -> str:
    return "o" + "".join(secrets.choice(_OPENID_ALPHABET) for _ in range(27))


def new_code() -> str:
    return secrets.token_hex(16)


# Subscription message value rules by key prefix: (max length, regex or None).
_VALUE_RULES: dict[str, tuple[int, re.Pattern[str] | None]] = {
    "thing": (20, None),
    "name": (10, None),
    "phrase": (5, None),
    "character_string": (32, re.compile(r"^[A-Za-z0-9_\-]+$")),
    "number": (32, re.compile(r"^\d+$")),
    "amount": (16, re.compile(r"^¥?\d+(\.\d{1,2})?元?$")),
    "phone_number": (17, re.compile(r"^[\d+\-]+$")),
    "time": (32, None),
    "date": (32, None),
}


@dataclass
class MiniProgram:
    settings: SimSettings
    clock: Clock
    users: dict[str, User] = field(default_factory=dict)
    login_codes: dict[str, IssuedCode] = field(default_factory=dict)
    phone_codes: dict[str, IssuedCode] = field(default_factory=dict)
    tokens: dict[str, AccessToken] = field(default_factory=dict)
    current_token: AccessToken | None = None
    forced_refreshes: list[float] = field(default_factory=list)
    subscriptions: Counter[tuple[str, str]] = field(default_factory=Counter)
    messages: list[SentMessage] = field(default_factory=list)
    user_calls: dict[str, deque[float]] = field(default_factory=dict)
    faults: list[InjectedFault] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)

    # -- sandbox: what a person does inside WeChat ---------------------------------------

    def user(self, openid: str | None, unionid: str | None = None) -> User:
        openid = openid or new_openid()
        existing = self.users.get(openid)
        if existing is None:
            if unionid is None and self.settings.open_platform_bound:
                unionid = "oU" + hashlib.sha256(openid.encode()).hexdigest()[:26]
            existing = self.users[openid] = User(openid=openid, unionid=unionid)
        elif unionid is not None:
            existing.unionid = unionid
        return existing

    def issue_login_code(self, openid: str | None, unionid: str | None) -> IssuedCode:
        user = self.user(openid, unionid)
        issued = IssuedCode(code=new_code(), openid=user.openid, issued_at=self.clock.now())
        self.login_codes[issued.code] = issued
        return issued

    def issue_phone_code(self, openid: str | None, phone: str, country_code: str) -> IssuedCode:
        user = self.user(openid)
        issued = IssuedCode(
            code=new_code(),
            openid=user.openid,
            issued_at=self.clock.now(),
            phone_number=phone,
            country_code=country_code,
        )
        self.phone_codes[issued.code] = issued
        return issued

    def subscribe(self, openid: str, template_id: str, times: int) -> int:
        self.user(openid)
        self.subscriptions[(openid, template_id)] += times
        return self.subscriptions[(openid, template_id)]

    def inject(self, injected: InjectedFault) -> None:
        self.faults.append(injected)

    # -- the platform's rules ------------------------------------------------------------

    def check_fault(self, api: str, openid: str | None = None) -> None:
        for injected in self.faults:
            if injected.api != api or (injected.openid and injected.openid != openid):
                continue
            if injected.times > 0:
                injected.times -= 1
                if injected.times == 0:
                    self.faults.remove(injected)
            raise fault(injected.errcode)

    def check_app(self, appid: str | None, secret: str | None) -> None:
        if appid != self.settings.appid:
            raise fault(40013)
        if secret != self.settings.secret:
            raise fault(40125)

    def _take_code(self, codes: dict[str, IssuedCode], code: str | None) -> IssuedCode:
        issued = codes.get(code or "")
        if issued is None or self.clock.now() - issued.issued_at > self.settings.code_ttl_s:
            raise fault(40029)
        if issued.used:
            raise fault(40163)
        return issued

    def _count_user_call(self, openid: str) -> None:
        now = self.clock.now()
        calls = self.user_calls.setdefault(openid, deque())
        while calls and now - calls[0] >= 60:
            calls.popleft()
        if len(calls) >= self.settings.user_quota_per_minute:
            raise fault(45011)
        calls.append(now)

    def code2session(self, appid: str | None, secret: str | None, code: str | None) -> User:
        self.stats["jscode2session"] += 1
        issued = self.login_codes.get(code or "")
        self.check_fault("jscode2session", issued.openid if issued else None)
        self.check_app(appid, secret)
        issued = self._take_code(self.login_codes, code)
        self._count_user_call(issued.openid)
        issued.used = True
        user = self.users[issued.openid]
        user.session_key = base64.b64encode(secrets.token_bytes(16)).decode()
        return user

    def stable_token(self, appid: str | None, secret: str | None, force: bool) -> AccessToken:
        self.stats["stable_token"] += 1
        self.check_fault("stable_token")
        self.check_app(appid, secret)
        now = self.clock.now()
        current = self.current_token
        if force:
            day = [t for t in self.forced_refreshes if now - t < 86400]
            if day and now - day[-1] < self.settings.force_refresh_min_interval_s:
                raise fault(45009, "(force_refresh at most every 30 s)")
            if len(day) >= self.settings.force_refresh_per_day:
                raise fault(45009)
            self.forced_refreshes = [*day, now]
            self.tokens.clear()  # a forced refresh invalidates the previous token at once
        elif current is not None and current.expires_at - now > self.settings.token_renew_before_s:
            return current
        # Normal renewal in the last minutes: old and new tokens overlap until the old expires.
        token = AccessToken(
            value=secrets.token_urlsafe(96), expires_at=now + self.settings.token_ttl_s
        )
        self.tokens = {v: t for v, t in self.tokens.items() if t.expires_at > now}
        self.tokens[token.value] = token
        self.current_token = token
        return token

    def check_token(self, access_token: str | None) -> None:
        token = self.tokens.get(access_token or "")
        if token is None:
            raise fault(40001)
        if token.expires_at <= self.clock.now():
            raise fault(42001)

    def phone_number(self, code: str | None) -> IssuedCode:
        self.stats["getuserphonenumber"] += 1
        issued = self._take_code(self.phone_codes, code)
        issued.used = True
        return issued

    def send_message(self, body: dict[str, Any]) -> SentMessage:
        self.stats["subscribe_send"] += 1
        touser = body.get("touser")
        template_id = body.get("template_id")
        page = body.get("page")
        if not isinstance(touser, str) or touser not in self.users:
            raise fault(40003)
        self.check_fault("subscribe_send", touser)
        if not isinstance(template_id, str) or not _TEMPLATE_ID.fullmatch(template_id):
            raise fault(40037)
        if page is not None and (not isinstance(page, str) or page.startswith("/") or " " in page):
            raise fault(41030)
        if body.get("miniprogram_state", "formal") not in ("developer", "trial", "formal"):
            raise fault(47003, "miniprogram_state")
        if body.get("lang", "zh_CN") not in ("zh_CN", "en_US", "zh_HK", "zh_TW"):
            raise fault(47003, "lang")
        data = body.get("data")
        if not isinstance(data, dict) or not data:
            raise fault(47003, "data")
        for key, item in data.items():
            check_value(key, item)
        if self.subscriptions[(touser, template_id)] <= 0:
            raise fault(43101)
        self.subscriptions[(touser, template_id)] -= 1
        message = SentMessage(
            msgid=len(self.messages) + 1_000_000,
            touser=touser,
            template_id=template_id,
            page=page,
            data=data,
            sent_at=self.clock.now(),
        )
        self.messages.append(message)
        return message


def check_value(key: str, item: object) -> None:
    value = item.get("value") if isinstance(item, dict) else None
    if not isinstance(value, str) or not value:
        raise fault(47003, f"data.{key}.value")
    prefix = re.sub(r"\d+$", "", key)
    max_len, pattern = _VALUE_RULES.get(prefix, (20, None))
    if len(value) > max_len or (pattern is not None and not pattern.fullmatch(value)):
        raise fault(47003, f"data.{key}.value")


__all__ = ["AccessToken", "InjectedFault", "IssuedCode", "MiniProgram", "User", "WeChatFault"]
