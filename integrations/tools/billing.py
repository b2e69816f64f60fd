"""integration.createStripeCharge: a usage-based charge on the tenant's Stripe invoice
(docs/contract.md). The input and output models live here, next to their one operation."""

from __future__ import annotations

from pydantic import Field

from integrations.models import StripeCharge
from integrations.stripe import billing_charge_create
from mcp_core.operations import CallContext, OperationInput, OperationOutput, operation
from mcp_core.permissions import Permission


class CreateChargeInput(OperationInput):
    amount_cents: int = Field(
        ge=1, le=100_000_000, description="The amount in the currency's smallest unit (cents)."
    )
    currency: str = Field(
        default="eur", pattern=r"^[A-Za-z]{3}$", description="ISO 4217 code, default eur."
    )
    description: str = Field(
        min_length=1, max_length=255, description="What is charged, shown on the invoice."
    )
    idempotency_key: str = Field(
        min_length=8,
        max_length=200,
        pattern=r"^[A-Za-z0-9_.:\-]+$",
        description=(
            "Your unique key for this charge. Retrying with the same key and arguments returns "
            "the first charge and bills nothing again; with other arguments it is a CONFLICT."
        ),
    )


class ChargeOut(OperationOutput):
    id: int
    amount_cents: int
    currency: str
    description: str
    idempotency_key: str
    status: str = Field(description="succeeded, failed or not_configured (Stripe not set up).")
    stripe_invoice_item_id: str
    error: str
    created_at: str

    @classmethod
    def from_model(cls, charge: StripeCharge) -> ChargeOut:
        return cls(
            id=charge.pk,
            amount_cents=charge.amount_cents,
            currency=charge.currency,
            description=charge.description,
            idempotency_key=charge.idempotency_key,
            status=charge.status,
            stripe_invoice_item_id=charge.stripe_invoice_item_id,
            error=charge.error,
            created_at=charge.created_at.isoformat(),
        )


class CreateChargeOutput(OperationOutput):
    charge: ChargeOut
    replayed: bool = Field(description="True when this key was charged by an earlier call.")


@operation(
    "integration.createStripeCharge",
    input=CreateChargeInput,
    output=CreateChargeOutput,
    permission=Permission.MANAGE_INTEGRATIONS,
    idempotent=True,
    open_world=True,
    title="Create Stripe charge",
    description=(
        "Bill a usage-based amount to the tenant as an item on its next Stripe invoice; the "
        "idempotency_key makes sure a retry never bills twice. Without Stripe configured the "
        "charge is only recorded ('not_configured')."
    ),
    examples=(
        {
            "amount_cents": 1250,
            "description": "125 Gesprächsminuten März 2027",
            "idempotency_key": "usage-2027-03-minutes",
        },
    ),
)
def create_stripe_charge(ctx: CallContext, args: CreateChargeInput) -> CreateChargeOutput:
    result = billing_charge_create(tenant=ctx.tenant, actor=ctx.actor, **args.model_dump())
    return CreateChargeOutput(charge=ChargeOut.from_model(result.charge), replayed=result.replayed)
