"""Stripe's API through the official SDK (`stripe==16.1.0`), configured from settings.

- The API version is pinned (STRIPE_API_VERSION), every request is bounded by
  INTEGRATION_HTTP_TIMEOUT and run through the `stripe` circuit breaker (`stripe_call`).
  STRIPE_API_BASE points it at another host (a local fake in tests). The SDK's own network
  retries are off: a retry is ours to make, with the same idempotency key.
- The SDK's errors become ours, so the breaker can tell an outage (StripeUnavailable) from a
  refused request (StripeRejected, Conflict for a reused idempotency key).
- No STRIPE_API_KEY: `stripe_client` raises StripeNotConfigured.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import stripe
from django.conf import settings

from common import deadline
from common.errors import Conflict, IntegrationError, ServiceUnavailable
from mcp_core.breakers import call_with_breaker

STRIPE_API_VERSION = "2026-10-28.endive"
T = TypeVar("T")


class StripeNotConfigured(ServiceUnavailable):
    """No STRIPE_API_KEY: billing is skipped. Not an outage, so not a breaker failure."""

    client_error = True
    default_message = "stripe is not configured (STRIPE_API_KEY)."


class StripeRejected(IntegrationError):
    """Stripe refused the request itself (4xx): not an outage, so not a breaker failure."""

    client_error = True


class StripeUnavailable(ServiceUnavailable):
    """Stripe answered 5xx or 429, or did not answer in time: counts against the breaker."""


def is_configured() -> bool:
    return bool(settings.STRIPE_API_KEY)


def stripe_client() -> stripe.StripeClient:
    """A client for the configured key, pinned API version and base URL."""
    if not is_configured():
        raise StripeNotConfigured()
    base = settings.STRIPE_API_BASE.rstrip("/")
    return stripe.StripeClient(
        settings.STRIPE_API_KEY,
        stripe_version=STRIPE_API_VERSION,
        base_addresses={"api": base} if base else {},
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=deadline.cap(settings.INTEGRATION_HTTP_TIMEOUT)),
    )


def _translated(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn` raising our errors instead of the SDK's, so the breaker can tell an outage from a
    refused request."""

    def call(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except stripe.IdempotencyError as exc:
            raise Conflict(
                "The idempotency key was used before with other arguments.",
                details={"stripe": exc.user_message or str(exc)},
            ) from exc
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            reason = "timeout" if "timed out" in str(exc).lower() else "unreachable"
            raise StripeUnavailable(
                f"stripe {reason}: {exc.user_message or exc}", details={"integration": "stripe"}
            ) from exc
        except stripe.StripeError as exc:
            status = exc.http_status or 0
            message = f"stripe answered {status}: {exc.user_message or exc}"
            details = {"integration": "stripe", "stripe_code": exc.code or ""}
            if 400 <= status < 500 and status != 401:
                raise StripeRejected(message, details=details) from exc
            if status >= 500:
                raise StripeUnavailable(message, details=details) from exc
            raise IntegrationError(message, details=details) from exc

    return call


def stripe_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call one SDK method through the `stripe` breaker; the answer as a plain dict."""
    result = call_with_breaker("stripe", _translated(fn), *args, **kwargs)
    return dict(result.to_dict())
