from common.errors import Conflict, NotFound, ValidationFailed


class AppointmentNotFound(NotFound):
    default_message = "Appointment not found."


class IllegalStatusTransition(Conflict):
    default_message = "The appointment's status does not allow this change."


class SlotNotBookable(ValidationFailed):
    default_message = "The requested time cannot be booked."


class SlotTaken(Conflict):
    default_message = "The requested time overlaps another appointment of this staff member."
