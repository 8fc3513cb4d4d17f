import uuid

from pydantic import BaseModel, ConfigDict, Field


class LevelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    min_growth: int
    discount_rate_bp: int = Field(description="price paid per 10,000: 9500 = 5% off (95折)")
    free_shipping: bool


class LevelCreate(BaseModel):
    name: str = Field(min_length=1, max_length=32)
    min_growth: int = Field(ge=0, le=1_000_000_000)
    discount_rate_bp: int = Field(default=10000, gt=0, le=10000)
    free_shipping: bool = False


class LevelUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=32)
    min_growth: int | None = Field(default=None, ge=0, le=1_000_000_000)
    discount_rate_bp: int | None = Field(default=None, gt=0, le=10000)
    free_shipping: bool | None = None
