from common.errors import NotFound, ValidationFailed


class PhoneNumberNotFound(NotFound):
    default_message = "Phone number not found."


class InvalidRoutingRules(ValidationFailed):
    default_message = "The routing rules are not valid; nothing was changed."


class InvalidRoutingInput(ValidationFailed):
    default_message = "The routing request is not valid."
