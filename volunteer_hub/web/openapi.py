"""The OpenAPI 3.1 document of /api/v1, with request schemas taken from the pydantic models."""

from __future__ import annotations

from typing import Any

from flask import Flask
from pydantic import BaseModel

from volunteer_hub.services.drives.setup import DriveIn
from volunteer_hub.services.intake.help_requests import HelpRequestIn
from volunteer_hub.web import problems
from volunteer_hub.web.api_models import DriveDetail

_REF = "#/components/schemas/{model}"


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    """Return a $ref to the model's schema, adding it and its nested schemas to components."""
    schema = model.model_json_schema(ref_template=_REF)
    for name, nested in schema.pop("$defs", {}).items():
        components[name] = nested
    components[model.__name__] = schema
    return {"$ref": _REF.format(model=model.__name__)}


#: RFC 9457 problem details: the one error shape of the API (see web/problems.py).
ERROR = {
    "type": "object",
    "description": (
        "Problem details (RFC 9457). `type` is `about:blank` when the status says it all, "
        "else one of the `urn:volunteer-hub:problem:*` types; `title` and `detail` follow "
        "Accept-Language."
    ),
    "required": ["type", "title", "status", "instance"],
    "properties": {
        "type": {"type": "string", "enum": ["about:blank", *problems.TYPES]},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The path of the call that failed"},
        "errors": {"$ref": "#/components/schemas/FieldErrorList"},
    },
}
FIELD_ERROR_LIST = {
    "type": "array",
    "description": "One item per message; nested fields dotted, e.g. windows.0.start",
    "items": {
        "type": "object",
        "required": ["field", "message"],
        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
    },
}
FIELD_ERRORS = {
    "allOf": [
        {"$ref": "#/components/schemas/Error"},
        {"type": "object", "required": ["errors"]},
    ],
    "example": {
        "type": problems.VALIDATION,
        "title": "Một số ô cần xem lại.",
        "status": 422,
        "instance": "/api/v1/requests",
        "errors": [
            {"field": "phone", "message": "Số điện thoại này không đúng định dạng số Việt Nam."}
        ],
    },
}


def error_response(description: str) -> dict[str, Any]:
    """Return a response object whose body is the common error shape."""
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


COMMON_ERRORS = {
    "401": error_response("Missing, unknown, revoked or expired bearer token"),
    "403": error_response("The token's account may not do this"),
    "429": error_response("Too many calls; see Retry-After"),
}


#: ?limit= and ?cursor= of every list (web/paging.py).
PAGE_PARAMETERS = [
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "Rows per page (50 unless given)",
        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
    },
    {
        "name": "cursor",
        "in": "query",
        "required": False,
        "description": "Opaque: copy it from the previous page's `next`",
        "schema": {"type": "string", "maxLength": 100},
    },
]
NEXT_LINK = {
    "description": "The next page's URL, or null on the last page",
    "type": ["string", "null"],
}
LINK_HEADER = {
    "description": 'RFC 8288 `<URL>; rel="next"` when there is a next page',
    "schema": {"type": "string"},
}

#: Conditional reads of a single resource (web/conditional.py).
ETAG_HEADER = {
    "description": "Strong validator of this answer's body; send it back in If-None-Match",
    "schema": {"type": "string"},
}
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "The ETag last read: 304 with no body while it still holds",
    "schema": {"type": "string"},
}
NOT_MODIFIED = {
    "description": "Unchanged since the ETag sent in If-None-Match; no body",
    "headers": {"ETag": ETAG_HEADER},
}


IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": True,
    "description": "The ETag last read; the change is refused (412) if it is no longer current",
    "schema": {"type": "string"},
}


def conditional_get(operation: dict[str, Any]) -> None:
    """Add If-None-Match, the 200's ETag and the 304 to a single resource's GET."""
    operation["parameters"].append(IF_NONE_MATCH)
    operation["responses"]["200"]["headers"] = {"ETag": ETAG_HEADER}
    operation["responses"]["304"] = NOT_MODIFIED


#: A date query argument that may be left empty, as an HTML form sends an unset date field.
OPTIONAL_DATE = {
    "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "maxLength": 0}]
}


def build_spec(app: Flask) -> dict[str, Any]:
    """Return the OpenAPI document for the API routes registered on the app."""
    components: dict[str, Any] = {
        "Error": ERROR,
        "FieldErrors": FIELD_ERRORS,
        "FieldErrorList": FIELD_ERROR_LIST,
    }
    request_ref = _schema(HelpRequestIn, components)
    components["RequestCreated"] = {
        "type": "object",
        "required": ["reference", "status", "priority", "possible_duplicate"],
        "properties": {
            "reference": {"type": "string", "pattern": "^[2-9A-HJ-NP-Z]{6}$"},
            "status": {"type": "string", "enum": ["new"]},
            "priority": {"type": "integer", "minimum": 1, "maximum": 5},
            "possible_duplicate": {"type": "boolean"},
        },
    }
    stamp = {"type": "string", "format": "date-time"}
    components["RequestStatus"] = {
        "type": "object",
        "description": (
            "What the submitting account may see of a request: no names, phone or address, "
            "no team, nothing of an unpublished plan"
        ),
        "required": [
            "reference",
            "status",
            "priority",
            "created_at",
            "commune",
            "services",
            "planned",
            "outcome",
        ],
        "properties": {
            "reference": {"type": "string", "pattern": "^[2-9A-HJ-NP-Z]{6}$"},
            "status": {
                "type": "string",
                "enum": [
                    "new",
                    "triaged",
                    "scheduled",
                    "confirmed",
                    "done",
                    "not_home",
                    "referred",
                    "cancelled",
                ],
            },
            "priority": {"type": "integer", "minimum": 1, "maximum": 5},
            "created_at": stamp,
            "commune": {"type": "string"},
            "services": {"type": "array", "items": {"type": "string"}},
            "planned": {
                "description": "The visit in the drive's newest published plan, or null",
                "anyOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["day", "block", "status"],
                        "properties": {
                            "day": {"type": "string", "format": "date"},
                            "block": {
                                "anyOf": [
                                    {"type": "null"},
                                    {
                                        "type": "object",
                                        "required": ["starts_at", "ends_at"],
                                        "properties": {"starts_at": stamp, "ends_at": stamp},
                                    },
                                ]
                            },
                            "status": {"type": "string"},
                        },
                    },
                ],
            },
            "outcome": {
                "description": "What the team reported, or null",
                "anyOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["reported_at", "people_helped", "services"],
                        "properties": {
                            "reported_at": {"anyOf": [{"type": "null"}, stamp]},
                            "people_helped": {"type": ["integer", "null"]},
                            "services": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["service", "outcome"],
                                    "properties": {
                                        "service": {"type": ["string", "null"]},
                                        "outcome": {
                                            "type": "string",
                                            "enum": [
                                                "done",
                                                "partly_done",
                                                "referred",
                                                "not_possible",
                                                "not_home",
                                            ],
                                        },
                                    },
                                },
                            },
                        },
                    },
                ],
            },
        },
    }
    components["Me"] = {
        "type": "object",
        "required": ["email", "name", "role", "communes"],
        "properties": {
            "email": {"type": "string"},
            "name": {"type": "string"},
            "role": {"type": "string", "enum": ["admin", "coordinator", "partner"]},
            "communes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "name"],
                    "properties": {"code": {"type": "string"}, "name": {"type": "string"}},
                },
            },
        },
    }
    drive_ref = _schema(DriveDetail, components)  # and PlanSummary, BlockOut, MeetingPointIn
    _schema(DriveIn, components)
    # A merge patch of the drive's fields: DriveIn with none of them required.
    components["DrivePatch"] = {
        **{k: v for k, v in components["DriveIn"].items() if k != "required"},
        "title": "DrivePatch",
        "description": "The fields to change; the others keep their value.",
    }
    components["Drive"] = {
        "type": "object",
        "required": ["id", "name", "status", "first_day", "communes", "plans"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "status": {
                "type": "string",
                "enum": ["draft", "planning", "published", "completed", "cancelled"],
            },
            "first_day": {"type": ["string", "null"], "format": "date-time"},
            "communes": {"type": "array", "items": {"type": "string"}},
            "plans": {"type": "array", "items": {"$ref": "#/components/schemas/PlanSummary"}},
        },
    }
    components["PlannerPlan"] = {
        "type": "object",
        "description": "The planner's plan JSON, version 1 (see docs/scheduling.md).",
        "required": ["version", "routes", "unassigned", "stats"],
        "properties": {
            "version": {"type": "integer", "const": 1},
            "routes": {"type": "array", "items": {"type": "object"}},
            "unassigned": {"type": "array", "items": {"type": "object"}},
            "stats": {"type": "object"},
        },
    }
    components["PlannerProblem"] = {
        "type": "object",
        "description": "The planner's problem JSON, version 1 (see docs/scheduling.md).",
        "required": ["version", "teams", "visits"],
        "properties": {
            "version": {"type": "integer", "const": 1},
            "teams": {"type": "array", "items": {"type": "object"}},
            "visits": {"type": "array", "items": {"type": "object"}},
        },
    }
    components["PlanProgress"] = {
        "type": "object",
        "properties": {
            "status": {"type": "string"},
            "elapsed_s": {"type": "number"},
            "time_limit_s": {"type": "number"},
            "served": {"type": ["integer", "null"]},
            "served_priority": {"type": ["integer", "null"]},
            "travel_min": {"type": ["number", "null"]},
            "visits": {"type": "integer"},
        },
    }
    components["PlanDetail"] = {
        "allOf": [
            {"$ref": "#/components/schemas/PlanSummary"},
            {
                "type": "object",
                "required": ["drive_id", "progress", "problem_url"],
                "properties": {
                    "drive_id": {"type": "integer"},
                    "progress": {"$ref": "#/components/schemas/PlanProgress"},
                    "problem_url": {"type": "string"},
                    "plan": {"$ref": "#/components/schemas/PlannerPlan"},
                },
            },
        ]
    }
    components["PlanStarted"] = {
        "type": "object",
        "required": ["id", "version", "status", "url"],
        "properties": {
            "id": {"type": "integer"},
            "version": {"type": "integer"},
            "status": {"type": "string", "enum": ["queued"]},
            "url": {"type": "string"},
        },
    }
    count = {"type": "integer", "minimum": 0}
    # A province's or a commune's figures: its code and name beside the figures.
    components["PlaceFigures"] = {
        "allOf": [
            {"$ref": "#/components/schemas/Figures"},
            {
                "type": "object",
                "properties": {"code": {"type": "string"}, "name": {"type": "string"}},
            },
        ]
    }
    components["Figures"] = {
        "type": "object",
        "description": "See the definitions in docs/reports.md.",
        "required": [
            "requests_received",
            "planned",
            "served",
            "people_helped",
            "urgent",
            "volunteer_hours",
            "sms",
        ],
        "properties": {
            "requests_received": count,
            "follow_ups_received": count,
            "planned": count,
            "served": count,
            "not_home": count,
            "people_helped": count,
            "urgent": {
                "type": "object",
                "properties": {
                    "received": count,
                    "served": count,
                    "share_served": {"type": ["number", "null"]},
                    "median_wait_days": {"type": ["number", "null"]},
                },
            },
            "volunteer_hours": {"type": "number"},
            "volunteers": count,
            "outcomes": {
                "type": "object",
                "additionalProperties": {"type": "object", "additionalProperties": count},
            },
            "sms": {
                "type": "object",
                "properties": {
                    "sent": count,
                    "delivered": count,
                    "failed": count,
                    "cost": {"type": "number"},
                    "cost_unit": {"type": "string"},
                },
            },
        },
    }
    components["Summary"] = {
        "type": "object",
        "required": ["period", "totals", "communes"],
        "properties": {
            "period": {
                "type": "object",
                "properties": {
                    "from": {"type": "string", "format": "date"},
                    "to": {"type": "string", "format": "date"},
                },
            },
            "province": {"type": ["string", "null"]},
            "commune": {"type": ["string", "null"]},
            "totals": {"$ref": "#/components/schemas/Figures"},
            "provinces": {
                "description": "Each province of the scope, its communes' figures together "
                "(volunteers and the median wait counted over the province)",
                "type": "array",
                "items": {"$ref": "#/components/schemas/PlaceFigures"},
            },
            "communes": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/PlaceFigures"},
            },
        },
    }
    not_found = error_response("No such record, or outside the account's communes")
    paths: dict[str, Any] = {
        "/me": {
            "get": {
                "summary": "The account the token acts for",
                "operationId": "getMe",
                "responses": {
                    "200": {
                        "description": "The account",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Me"}}
                        },
                    },
                    **COMMON_ERRORS,
                },
            }
        },
        "/requests": {
            "post": {
                "summary": "Submit a household's help request",
                "description": (
                    "Partner apps (limited to intake), coordinators (their communes) and admins. "
                    "The same validation as the public web form; the request is stored with "
                    "status `new`. The same phone and address within 14 days is stored too, "
                    "flagged as a possible duplicate."
                ),
                "operationId": "createRequest",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": request_ref,
                            "example": HelpRequestIn.model_config["json_schema_extra"]["examples"][
                                0
                            ],  # type: ignore[index]
                        }
                    },
                },
                "responses": {
                    "201": {
                        "description": "Stored; the household's reference code",
                        "headers": {
                            "Location": {
                                "description": "GET it to follow the request",
                                "schema": {"type": "string"},
                            }
                        },
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/RequestCreated"}
                            }
                        },
                    },
                    "400": error_response("The body is not valid JSON"),
                    "413": error_response("The body is too large"),
                    "415": error_response("The body is not JSON"),
                    "422": {
                        "description": (
                            "Field errors, in the language of the Accept-Language header"
                        ),
                        "content": {
                            "application/problem+json": {
                                "schema": {"$ref": "#/components/schemas/FieldErrors"}
                            }
                        },
                    },
                    **COMMON_ERRORS,
                },
            }
        },
    }
    paths["/requests/{reference}"] = {
        "get": {
            "summary": "What became of a request the token's account submitted",
            "description": (
                "Status, the planned day and block once a plan is published, and the outcome. "
                "Any request the account did not submit (coordinators: outside their communes) "
                "is 404, as is an unknown reference."
            ),
            "operationId": "getRequest",
            "parameters": [
                {
                    "name": "reference",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "maxLength": 20},
                }
            ],
            "responses": {
                "200": {
                    "description": "The request as its submitter may see it",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/RequestStatus"}
                        }
                    },
                },
                "404": not_found,
                **COMMON_ERRORS,
            },
        }
    }
    paths["/drives"] = {
        "get": {
            "summary": "The drives the account may see (coordinators: their communes)",
            "operationId": "listDrives",
            "description": (
                "A page at a time, newest first (keyset on id): follow `next` (or the `Link` "
                "header) until it is null; drives added meanwhile never shift the pages left."
            ),
            "parameters": PAGE_PARAMETERS,
            "responses": {
                "200": {
                    "description": "Drives, newest first",
                    "headers": {"Link": LINK_HEADER},
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["drives", "next"],
                                "properties": {
                                    "drives": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Drive"},
                                    },
                                    "next": NEXT_LINK,
                                },
                            }
                        }
                    },
                },
                "422": {
                    "description": "A bad limit or cursor",
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/FieldErrors"}
                        }
                    },
                },
                **COMMON_ERRORS,
            },
        }
    }
    drive_id = {"name": "drive_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    drive_ok = {
        "description": "The drive",
        "headers": {"ETag": ETAG_HEADER},
        "content": {"application/json": {"schema": drive_ref}},
    }
    paths["/drives/{drive_id}"] = {
        "get": {
            "summary": "One drive: its fields, days, plans and counts",
            "operationId": "getDrive",
            "parameters": [drive_id],
            "responses": {"200": drive_ok, "404": not_found, **COMMON_ERRORS},
        },
        "patch": {
            "summary": "Change some of a drive's fields (draft or planning drives)",
            "description": (
                "A JSON merge patch of the fields `GET` shows in the same shape (blocks in local "
                "time); the fields left out keep their value. Checked as the web form checks "
                "them. `If-Match` must hold the ETag last read: without it 428, stale 412. The "
                "answer is the drive with its new ETag."
            ),
            "operationId": "updateDrive",
            "parameters": [drive_id, IF_MATCH],
            "requestBody": {
                "required": True,
                "content": {
                    media: {
                        "schema": {"$ref": "#/components/schemas/DrivePatch"},
                        "example": {"name": "Chủ nhật số, đợt 2", "team_size": 2},
                    }
                    for media in ("application/json", "application/merge-patch+json")
                },
            },
            "responses": {
                "200": drive_ok,
                "400": error_response("The body is not valid JSON"),
                "404": not_found,
                "412": error_response("The ETag in If-Match is no longer current: read again"),
                "415": error_response("The body is not JSON"),
                "422": {
                    "description": (
                        "Field errors (`_form` when the drive is published and can no longer "
                        "change)"
                    ),
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/FieldErrors"}
                        }
                    },
                },
                "428": error_response("No If-Match: read the drive first"),
                **COMMON_ERRORS,
            },
        },
    }
    paths["/drives/{drive_id}/plans"] = {
        "post": {
            "summary": "Start planning a drive in the background",
            "operationId": "startPlan",
            "parameters": [
                {"name": "drive_id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "time_limit_s": {"type": "number", "minimum": 3, "maximum": 600}
                            },
                        },
                        "example": {"time_limit_s": 30},
                    }
                },
            },
            "responses": {
                "202": {
                    "description": "Queued; poll the plan",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/PlanStarted"}}
                    },
                },
                "404": not_found,
                "422": error_response(
                    "A bad time_limit_s (with `errors`), or the drive cannot be planned yet"
                ),
                **COMMON_ERRORS,
            },
        }
    }
    paths["/plans/{plan_id}"] = {
        "get": {
            "summary": (
                "A plan's status and progress; once done, the plan (planner JSON, version 1)"
            ),
            "operationId": "getPlan",
            "parameters": [
                {"name": "plan_id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "responses": {
                "200": {
                    "description": "The plan",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/PlanDetail"}}
                    },
                },
                "404": not_found,
                **COMMON_ERRORS,
            },
        }
    }
    paths["/plans/{plan_id}/problem"] = {
        "get": {
            "summary": "The exact planner problem the plan solved (planner JSON, version 1)",
            "description": (
                "Recheck a plan with `python -m scheduling check PROBLEM.json PLAN.json`."
            ),
            "operationId": "getPlanProblem",
            "parameters": [
                {"name": "plan_id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "responses": {
                "200": {
                    "description": "The problem",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/PlannerProblem"}
                        }
                    },
                },
                "404": not_found,
                **COMMON_ERRORS,
            },
        }
    }
    paths["/reports/summary"] = {
        "get": {
            "summary": "What was achieved over a period: the dashboard's totals",
            "description": (
                "The same figures as `GET /reports/export.xlsx` (signed in or with this token)."
            ),
            "operationId": "getReportSummary",
            "parameters": [
                {
                    "name": "from",
                    "in": "query",
                    "required": False,
                    "schema": OPTIONAL_DATE,
                    "description": "First day (YYYY-MM-DD); empty or absent: 90 days before `to`",
                },
                {
                    "name": "to",
                    "in": "query",
                    "required": False,
                    "schema": OPTIONAL_DATE,
                    "description": "Last day (YYYY-MM-DD); empty or absent: today",
                },
                {
                    "name": "province",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "One province's official code, among the token's user's "
                    "provinces; empty or absent: every province in scope",
                },
                {
                    "name": "commune",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "One commune's official code (in `province` when both are "
                    "given); empty or absent: every commune",
                },
                {
                    "name": "lang",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "Language of error messages: `vi` or `en` (anything else, or "
                    "absent: Accept-Language, else `vi`)",
                },
            ],
            "responses": {
                "200": {
                    "description": "The totals",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Summary"}}
                    },
                },
                "422": {
                    "description": "A bad date, province or commune, or an unknown parameter",
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/FieldErrors"}
                        }
                    },
                },
                **COMMON_ERRORS,
            },
        }
    }
    for single in (
        "/requests/{reference}",
        "/drives/{drive_id}",
        "/plans/{plan_id}",
        "/plans/{plan_id}/problem",
    ):
        conditional_get(paths[single]["get"])
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "volunteer_hub API",
            "version": "1",
            "description": (
                "Bearer tokens come from `volunteer-hub api-tokens create --user EMAIL`. "
                "Every answer is `Cache-Control: no-store`. The rate limit is per token "
                "(anonymous calls: per address). Single resources carry a strong `ETag`; "
                "send it in `If-None-Match` to get 304 while unchanged, and in `If-Match` to "
                "change the resource (412 when stale, 428 without it)."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
