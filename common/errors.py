"""The error envelope of docs/contract.md: one root, one code and HTTP status per type.

Domain apps raise subclasses of `ApplicationError` from their `errors.py`; every front door
renders them with `ApplicationError.envelope()`, so a failure looks the same everywhere.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any


class ErrorType(Enum):
    VALIDATION_FAILED = (1001, 400)
    RESOURCE_NOT_FOUND = (1002, 404)
    PERMISSION_DENIED = (1003, 403)
    RATE_LIMIT_EXCEEDED = (1004, 429)
    SERVICE_UNAVAILABLE = (1005, 503)
    TENANT_QUOTA_EXCEEDED = (1006, 403)
    TRANSACTION_FAILED = (1007, 500)
    INTEGRATION_ERROR = (1008, 502)
    AUTHENTICATION_FAILED = (1009, 401)
    CONFLICT = (1010, 409)
    INTERNAL_ERROR = (1000, 500)

    @property
    def code(self) -> int:
        return self.value[0]

    @property
    def http_status(self) -> int:
        return self.value[1]


class ApplicationError(Exception):
    error_type: ErrorType = ErrorType.INTERNAL_ERROR
    default_message = "An internal error occurred."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None):
        self.message = message or self.default_message
        self.details = details or {}
        super().__init__(self.message)

    @property
    def http_status(self) -> int:
        return self.error_type.http_status

    def envelope(self, correlation_id: str = "") -> dict[str, Any]:
        return {
            "error": {
                "code": self.error_type.code,
                "type": self.error_type.name,
                "message": self.message,
                "details": self.details,
                "timestamp": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
                "correlation_id": correlation_id,
            }
        }


class ValidationFailed(ApplicationError):
    error_type = ErrorType.VALIDATION_FAILED
    default_message = "The input is not valid."


class NotFound(ApplicationError):
    error_type = ErrorType.RESOURCE_NOT_FOUND
    default_message = "The resource does not exist."


class PermissionDenied(ApplicationError):
    error_type = ErrorType.PERMISSION_DENIED
    default_message = "This key's role may not perform this operation."


class RateLimitExceeded(ApplicationError):
    error_type = ErrorType.RATE_LIMIT_EXCEEDED
    default_message = "Rate limit exceeded."


class ServiceUnavailable(ApplicationError):
    error_type = ErrorType.SERVICE_UNAVAILABLE
    default_message = "The service is temporarily unavailable."


class QuotaExceeded(ApplicationError):
    error_type = ErrorType.TENANT_QUOTA_EXCEEDED
    default_message = "The tenant's plan quota is exhausted."


class TransactionFailed(ApplicationError):
    error_type = ErrorType.TRANSACTION_FAILED
    default_message = "The operation failed and was rolled back."


class IntegrationError(ApplicationError):
    error_type = ErrorType.INTEGRATION_ERROR
    default_message = "An external service answered with an error."


class AuthenticationFailed(ApplicationError):
    error_type = ErrorType.AUTHENTICATION_FAILED
    default_message = "A valid API key is required."


class Conflict(ApplicationError):
    error_type = ErrorType.CONFLICT
    default_message = "The request conflicts with the current state."
