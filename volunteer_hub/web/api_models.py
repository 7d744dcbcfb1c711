"""The API's response models (pydantic), beside the request models of the services.

They are the answers' documented shapes: the OpenAPI document takes its schemas from them, and
a test validates the views' answers against them.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from volunteer_hub.services.drives.setup import MeetingPointIn

DriveStatusName = Literal["draft", "planning", "published", "completed", "cancelled"]
PlanStatusName = Literal["queued", "running", "done", "failed", "cancelled"]


class PlanSummary(BaseModel):
    """A plan version of a drive, without its problem or plan JSON."""

    id: int
    version: int = Field(ge=1)
    status: PlanStatusName
    published: bool


class BlockOut(BaseModel):
    """A block of a drive day, in local time (Asia/Ho_Chi_Minh), as PATCH takes it."""

    day: date
    start: str = Field(pattern=r"^\d{2}:\d{2}$", examples=["07:30"])
    end: str = Field(pattern=r"^\d{2}:\d{2}$", examples=["11:00"])


class DriveCounts(BaseModel):
    """How much the drive holds today."""

    requests: int = Field(ge=0, description="Requests included in the drive")
    volunteers_invited: int = Field(ge=0, description="Volunteers invited, whatever they answered")
    volunteers_accepted: int = Field(ge=0)
    teams: int = Field(ge=0, description="Active teams")
    plans: int = Field(ge=0, description="Plan versions")


class DriveDetail(BaseModel):
    """One drive: the fields PATCH changes, its days, plans and counts."""

    model_config = ConfigDict(title="DriveDetail")

    id: int
    name: str
    status: DriveStatusName
    editable: bool = Field(description="Whether PATCH may still change it (draft or planning)")
    row_version: int = Field(ge=1)
    days: list[date] = Field(description="The local days of its blocks, in order")
    communes: list[str] = Field(description="Official commune codes")
    blocks: list[BlockOut]
    meeting_points: list[MeetingPointIn]
    team_size: int = Field(ge=1, le=2)
    unaccented_sms: bool
    service_minutes: dict[str, int] = Field(
        description="Minutes per service code where the drive differs from the catalogue"
    )
    notes: str | None
    current_plan: PlanSummary | None = Field(description="The newest plan version, or null")
    published_plan: PlanSummary | None = Field(
        description="The newest published plan version, or null"
    )
    counts: DriveCounts
