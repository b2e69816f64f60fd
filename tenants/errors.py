from mcp_core.errors import Conflict, NotFound, QuotaExceeded, ValidationFailed


class TenantNotFound(NotFound):
    default_message = "Tenant not found."


class BranchNotFound(NotFound):
    default_message = "Branch not found."


class BranchLimitReached(QuotaExceeded):
    default_message = "The plan's branch limit is reached."


class ApiKeyAlreadyRevoked(Conflict):
    default_message = "The API key is already revoked."


class InvalidTenantInput(ValidationFailed):
    pass
