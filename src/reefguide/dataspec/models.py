"""Regions, criteria and the ranges each criterion takes in each region.

The whole specification is replaced at once (service.replace_specification), by the
DATA_SPECIFICATION_UPDATE worker; clients only read it.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from reefguide.db.base import Base, Timestamps

NAME_LENGTH = 200
TITLE_LENGTH = 500


class Region(Timestamps, Base):
    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    display_name: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    description: Mapped[str | None] = mapped_column(Text)


class Criteria(Timestamps, Base):
    """One assessment criterion (depth, slope …), shared by the regions that have it."""

    __tablename__ = "criteria"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    display_title: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    display_subtitle: Mapped[str | None] = mapped_column(Text)
    units: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    min_tooltip: Mapped[str | None] = mapped_column(Text)
    max_tooltip: Mapped[str | None] = mapped_column(Text)
    # How a job's input names this criterion's bounds: `<prefix>min`, `<prefix>max`.
    payload_prefix: Mapped[str] = mapped_column(String(NAME_LENGTH))


class RegionalCriteria(Timestamps, Base):
    """The values a criterion takes in a region, and the range a client starts from."""

    __tablename__ = "regional_criteria"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="CASCADE"))
    criteria_id: Mapped[int] = mapped_column(ForeignKey("criteria.id", ondelete="CASCADE"), index=True)
    min_val: Mapped[float] = mapped_column()
    max_val: Mapped[float] = mapped_column()
    default_min_val: Mapped[float] = mapped_column()
    default_max_val: Mapped[float] = mapped_column()

    # The unique constraint's index serves lookups by region too.
    __table_args__ = (UniqueConstraint("region_id", "criteria_id"),)
