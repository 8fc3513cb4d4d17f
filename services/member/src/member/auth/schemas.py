from pydantic import BaseModel, Field

from member.members.schemas import MemberRead
from member.staff.schemas import StaffRead


class WeChatLogin(BaseModel):
    code: str = Field(min_length=1, max_length=128, description="the code from wx.login")


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=256)


class TokenPairRead(BaseModel):
    access_token: str
    refresh_token: str
    expires_in: int = Field(description="seconds until the access token expires")
    token_type: str = "Bearer"


class MemberLoginRead(TokenPairRead):
    member: MemberRead
    registered: bool = Field(description="true on the first login (the member was created)")


class StaffLoginRead(TokenPairRead):
    staff: StaffRead
