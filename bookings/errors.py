from mcp_core.errors import Conflict, NotFound


class AppointmentNotFound(NotFound):
    default_message = "Appointment not found."


class IllegalStatusTransition(Conflict):
    default_message = "The appointment's status does not allow this change."
