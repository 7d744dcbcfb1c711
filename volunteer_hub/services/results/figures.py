"""The figures a report adds up, the period they cover, and the tally the counting passes
fill (shared by the report, services/results/reports.py, and the daily totals,
services/results/stored.py and totals.py)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Period:
    """Local dates, both included."""

    first: date
    last: date

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        start = datetime.combine(self.first, time.min, tz)
        end = datetime.combine(self.last + timedelta(days=1), time.min, tz)
        return start, end


@dataclass
class Figures:
    """The headline figures of one scope (everything, or one commune)."""

    requests_received: int = 0
    follow_ups_received: int = 0
    planned: int = 0
    served: int = 0
    not_home: int = 0
    people_helped: int = 0
    urgent_received: int = 0
    urgent_served: int = 0
    urgent_wait_days: float | None = None
    volunteer_hours: float = 0.0
    volunteers: int = 0
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    sms_sent: int = 0
    sms_delivered: int = 0
    sms_failed: int = 0
    sms_cost: float = 0.0
    sms_cost_unit: str = ""

    @property
    def urgent_share(self) -> float | None:
        return self.urgent_served / self.urgent_received if self.urgent_received else None

    def as_json(self) -> dict[str, object]:
        return {
            "requests_received": self.requests_received,
            "follow_ups_received": self.follow_ups_received,
            "planned": self.planned,
            "served": self.served,
            "not_home": self.not_home,
            "people_helped": self.people_helped,
            "urgent": {
                "received": self.urgent_received,
                "served": self.urgent_served,
                "share_served": round(self.urgent_share, 4)
                if self.urgent_share is not None
                else None,
                "median_wait_days": self.urgent_wait_days,
            },
            "volunteer_hours": round(self.volunteer_hours, 1),
            "volunteers": self.volunteers,
            "outcomes": self.outcomes,
            "sms": {
                "sent": self.sms_sent,
                "delivered": self.sms_delivered,
                "failed": self.sms_failed,
                "cost": round(self.sms_cost, 4),
                "cost_unit": self.sms_cost_unit,
            },
        }


@dataclass
class Tally:
    """What the counting passes add up for a scope: the figures, and what is not summed.

    ``figures`` holds the communes of the scope; ``unplaced`` the SMS that belong to no
    commune (counted in the total only); ``went`` the minutes and visits of each volunteer who
    went, per commune (the distinct counts and the hours come from it); ``units`` the messages
    per currency, and ``units_by_commune`` the same per commune they count in (None: no commune
    of the scope), which the daily totals keep per commune.
    """

    figures: dict[int, Figures]
    total: Figures = field(default_factory=Figures)
    unplaced: Figures = field(default_factory=Figures)
    went: dict[tuple[int, int], list[float]] = field(default_factory=dict)
    units: Counter[str] = field(default_factory=Counter)
    units_by_commune: dict[int | None, Counter[str]] = field(default_factory=dict)
    # The totalled days' volunteers who went (services/results/totals.py: StoredWent).
    stored: Any = None

    def both(self, commune_id: int | None) -> list[Figures]:
        """The total and the commune's figures, when the commune is in the scope."""
        return [self.total, self.figures[commune_id]] if commune_id in self.figures else []

    def add_went(self, commune_id: int, volunteer_id: int, minutes: float, visits: int) -> None:
        entry = self.went.setdefault((commune_id, volunteer_id), [0.0, 0])
        entry[0] += minutes
        entry[1] += visits
