from common.errors import NotFound, ValidationFailed


class StaffNotFound(NotFound):
    default_message = "Staff member not found."


class ServiceNotFound(NotFound):
    default_message = "Service not found."


class InvalidStaffInput(ValidationFailed):
    default_message = "The staff data is not valid."


class InvalidSchedule(ValidationFailed):
    default_message = "The schedule is not valid."
