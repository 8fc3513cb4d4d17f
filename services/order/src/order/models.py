"""Tables of the order service (its own database). Kit tables live in ``shared``."""

from shared.db import new_metadata
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    metadata = new_metadata()
