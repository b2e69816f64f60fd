from common.errors import Conflict, NotFound, PermissionDenied, QuotaExceeded, ValidationFailed


class TenantNotFound(NotFound):
    default_message = "Tenant not found."


class BranchNotFound(NotFound):
    default_message = "Branch not found."


class PlanLimitReached(QuotaExceeded):
    default_message = "A limit of the tenant's plan is reached."


class PlanFeatureMissing(PermissionDenied):
    default_message = "The tenant's plan does not include this feature."


class BranchNameTaken(Conflict):
    default_message = "The tenant already has a branch with this name."


class ApiKeyAlreadyRevoked(Conflict):
    default_message = "The API key is already revoked."


class InvalidTenantInput(ValidationFailed):
    pass


class InvalidBranchInput(ValidationFailed):
    default_message = "The branch data is not valid."
