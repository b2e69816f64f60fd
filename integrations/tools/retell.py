"""integration.processRetellWebhook: one verified Retell webhook delivery, applied once.

The webhook view (integrations.retell.views) verifies the signature and finds the tenant from
the dialled number; this operation applies the event, so webhook work is orchestrated, logged
and measured like every other call. Called with an API key it acts only on the key's own
tenant's numbers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, WithJsonSchema, model_validator

from common.errors import NotFound, ValidationFailed
from common.jsonbody import json_depth
from integrations.retell import events, inbound
from integrations.retell.lines import line_for
from mcp_core.operations import (
    NO_NUL_NAME,
    CallContext,
    OperationInput,
    OperationOutput,
    operation,
    plain_json,
)
from mcp_core.permissions import Permission

# Retell's objects nest a few levels (call → transcript_object → utterance → words → word);
# a delivery nests at most this many in all, the body itself counted.
MAX_LEVELS = 10
CallObject = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": NO_NUL_NAME,
            "additionalProperties": plain_json(MAX_LEVELS - 2),
        }
    ),
]


class ProcessRetellWebhookInput(OperationInput):
    # Retell adds fields over time (event_timestamp, ...): ignored, not refused.
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "propertyNames": NO_NUL_NAME,
            "additionalProperties": plain_json(MAX_LEVELS - 1),
        },
    )

    @model_validator(mode="before")
    @classmethod
    def _levels(cls, data: Any) -> Any:
        if json_depth(data) > MAX_LEVELS:
            raise ValueError(f"A webhook body nests at most {MAX_LEVELS} levels.")
        return data

    event: str = Field(
        min_length=1,
        max_length=50,
        description="call_inbound, call_started, call_ended or call_analyzed; others are ignored.",
    )
    call: CallObject | None = Field(
        default=None, description="Retell's call object (call_started/ended/analyzed)."
    )
    call_inbound: CallObject | None = Field(
        default=None, description="{agent_id?, from_number, to_number} for call_inbound."
    )


class ProcessRetellWebhookOutput(OperationOutput):
    status: Literal["applied", "duplicate", "ignored", "answered"]
    event: str
    call_id: str | None = None
    call_log_id: int | None = None
    outcome: str | None = Field(default=None, description="The call's outcome so far.")
    appointment_id: int | None = Field(default=None, description="The appointment it booked.")
    booking: dict[str, Any] | None = Field(
        default=None, description="processPhoneBooking's result for a post-call booking."
    )
    call_inbound: dict[str, Any] | None = Field(
        default=None,
        description="For call_inbound: the answer for Retell (override_agent_id, "
        "dynamic_variables).",
    )


def _own_line(ctx: CallContext, data: dict[str, Any]) -> Any:
    line = line_for(data.get("to_number"), data.get("agent_id"))
    if line is None or line.tenant.pk != ctx.tenant.pk:
        raise NotFound(
            "The dialled number is not one of this company's.",
            details={"to_number": data.get("to_number")},
        )
    return line


@operation(
    "integration.processRetellWebhook",
    input=ProcessRetellWebhookInput,
    output=ProcessRetellWebhookOutput,
    permission=Permission.MANAGE_INTEGRATIONS,
    idempotent=True,
    title="Process Retell webhook",
    description=(
        "Apply one Retell webhook event as Retell posts it to /webhooks/retell: call events keep "
        "the call log and call_analyzed with a booking intent books, call_inbound answers which "
        "agent takes the call. Each call_id and event is applied once; the dialled number must be "
        "one of the company's."
    ),
    examples=(
        {
            "event": "call_ended",
            "call": {
                "call_id": "call_8f3a",
                "agent_id": "agent_demo_berlin_de",
                "call_status": "ended",
                "from_number": "+4915112345678",
                "to_number": "+493012345670",
                "disconnection_reason": "user_hangup",
            },
        },
    ),
)
def process_retell_webhook(
    ctx: CallContext, args: ProcessRetellWebhookInput
) -> ProcessRetellWebhookOutput:
    if args.event == "call_inbound":
        data = args.call_inbound or {}
        _own_line(ctx, data)
        answer = inbound.routed_answer(
            to_number=str(data.get("to_number") or ""),
            from_number=str(data.get("from_number") or ""),
        )
        return ProcessRetellWebhookOutput(status="answered", event=args.event, call_inbound=answer)
    if args.event not in events.CALL_EVENTS:
        return ProcessRetellWebhookOutput(status="ignored", event=args.event)
    call = args.call or {}
    call_id = call.get("call_id")
    if not isinstance(call_id, str) or not call_id.strip() or len(call_id) > 100:
        raise ValidationFailed(
            "The call has no valid call_id.", details={"call.call_id": ["Required, 1–100 chars."]}
        )
    applied = events.apply_call_event(line=_own_line(ctx, call), event=args.event, call=call)
    return ProcessRetellWebhookOutput(
        status="applied" if applied.status == "applied" else "duplicate",
        event=args.event,
        call_id=applied.call_id,
        call_log_id=applied.call_log_id,
        outcome=applied.outcome,
        appointment_id=applied.appointment_id,
        booking=applied.booking,
    )
