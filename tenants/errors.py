from common.errors import Conflict, NotFound, QuotaExceeded, ValidationFailed


class TenantNotFound(NotFound):
    default_message = "Tenant not found."


class BranchNotFound(NotFound):
    default_message = "Branch not found."


class BranchLimitReached(QuotaExceeded):
    default_message = "The plan's branch limit is reached."


class BranchNameTaken(Conflict):
    default_message = "The tenant already has a branch with this name."


class ApiKeyAlreadyRevoked(Conflict):
    default_message = "The API key is already revoked."


class InvalidTenantInput(ValidationFailed):
    pass


class InvalidBranchInput(ValidationFailed):
    default_message = "The branch data is not valid."
