import uuid

from pydantic import BaseModel, ConfigDict, Field


class PrepayIn(BaseModel):
    order_id: uuid.UUID


class PrepayOut(BaseModel):
    """The fields ``wx.requestPayment`` takes, as WeChat names them."""

    model_config = ConfigDict(populate_by_name=True)

    time_stamp: str = Field(serialization_alias="timeStamp")
    nonce_str: str = Field(serialization_alias="nonceStr")
    package: str
    sign_type: str = Field(serialization_alias="signType")
    pay_sign: str = Field(serialization_alias="paySign")
