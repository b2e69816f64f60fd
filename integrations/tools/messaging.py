"""integration.sendSMSNotification: an SMS to one of the caller's customers
(docs/contract.md). The input and output models live here, next to their one operation."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from bookings.models import SmsMessage
from bookings.notifications import sms_notification_send
from mcp_core.operations import (
    NON_EMPTY,
    CallContext,
    OperationInput,
    OperationOutput,
    PhoneText,
    given,
    operation,
)
from mcp_core.permissions import Permission

SmsKindName = Literal["custom", "confirmation", "reminder", "cancellation", "reschedule"]


class SendSmsInput(OperationInput):
    # The rules of _one_recipient and of the service, as the schema can state them.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                given("customer_id"),
                given("phone", phone=NON_EMPTY),
                given("appointment_id"),
            ],
            "not": given("customer_id", "phone", phone=NON_EMPTY),
            "if": {"properties": {"kind": {"const": "custom"}}},
            "then": given("message", message=NON_EMPTY),
            "else": {**given("appointment_id"), "not": given("message", message=NON_EMPTY)},
        }
    )

    kind: SmsKindName = Field(
        default="custom",
        description=(
            "'custom' sends `message`; 'confirmation', 'reminder', 'cancellation' and "
            "'reschedule' send the tenant's German template about `appointment_id`."
        ),
    )
    appointment_id: int | None = Field(
        default=None, ge=1, description="The appointment the SMS is about (required for templates)."
    )
    customer_id: int | None = Field(
        default=None,
        ge=1,
        description="The recipient. Left out: `phone`, else the appointment's customer.",
    )
    phone: PhoneText | None = Field(
        default=None,
        description="The recipient by phone number; must be a customer of the tenant. "
        "German national formats accepted.",
    )
    message: str | None = Field(
        default=None, max_length=1600, description="The text of a 'custom' SMS (1–1600 characters)."
    )

    @model_validator(mode="after")
    def _one_recipient(self) -> SendSmsInput:
        if self.customer_id is not None and self.phone:
            raise ValueError("Give customer_id or phone, not both.")
        if self.kind != "custom" and self.message:
            raise ValueError("A message goes with kind 'custom'; templates bring their own text.")
        return self


class SmsOut(OperationOutput):
    id: int
    kind: str
    to: str
    status: str = Field(
        description="'queued'/'sent' once handed over, later 'delivered', 'undelivered', "
        "'failed' from the provider's reports; 'not_configured' when no SMS provider is set up."
    )
    provider: str
    provider_sid: str | None
    error_code: str
    appointment_id: int | None
    created_at: str

    @classmethod
    def from_model(cls, sms: SmsMessage) -> SmsOut:
        return cls(
            id=sms.pk,
            kind=sms.kind,
            to=sms.to,
            status=sms.status,
            provider=sms.provider,
            provider_sid=sms.provider_sid,
            error_code=sms.error_code,
            appointment_id=sms.appointment_id,
            created_at=sms.created_at.isoformat(),
        )


class SendSmsOutput(OperationOutput):
    sms: SmsOut
    sent: bool = Field(description="Whether the provider accepted the message.")


@operation(
    "integration.sendSMSNotification",
    input=SendSmsInput,
    output=SendSmsOutput,
    permission=Permission.MANAGE_CUSTOMERS,
    open_world=True,
    title="Send SMS notification",
    description=(
        "Send an SMS to a customer: a free text (kind 'custom') or the tenant's German template "
        "about an appointment. Every attempt is recorded; with no SMS provider configured it is "
        "recorded as 'not_configured' and sent is false."
    ),
    examples=(
        {"customer_id": 7, "message": "Ihre Bestellung ist da. Salon Sonnenschein"},
        {"kind": "reminder", "appointment_id": 42},
    ),
)
def send_sms_notification(ctx: CallContext, args: SendSmsInput) -> SendSmsOutput:
    sms = sms_notification_send(tenant=ctx.tenant, actor=ctx.actor, **args.model_dump())
    return SendSmsOutput(sms=SmsOut.from_model(sms), sent=bool(sms.provider_sid))
