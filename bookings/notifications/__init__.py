"""What we tell a customer about their booking, and when: booking logic of the bookings app.

- `texts`: the wording, German: the SMS texts (`templates/sms/`, or the tenant's own
  `SmsTemplate`, checked on save) and the e-mails (`templates/emails/booking_*`).
- `delivery`: the channel: e-mail when the customer gave an address, else SMS; SMS when the
  e-mail fails (confirmation, cancellation, reschedule, from the outbox's "notification.booking").
- `sms`: the SMS port (`SmsBackend`, chosen by `settings.SMS_BACKEND`, e.g. Twilio's adapter in
  `integrations.twilio`) and the record of every SMS sent (`SmsMessage`).
- `reminders`: one SMS reminder per appointment before it starts (Celery beat,
  `bookings.tasks`, through the outbox topic "sms.reminder").
- `customer_sms`: an SMS to a customer on request (integration.sendSMSNotification).
- `resend`: a failed SMS sent again, from the console's inbox "Probleme".

The names other apps use are importable from here.
"""

from bookings.notifications.customer_sms import sms_notification_send
from bookings.notifications.delivery import (
    EMAIL,
    DeliveryReport,
    Failure,
    deliver_booking_confirmation,
    deliver_booking_notification,
    send_email,
)
from bookings.notifications.resend import sms_resend
from bookings.notifications.sms import (
    SMS,
    ConsoleSms,
    NotificationError,
    SentMessage,
    SmsBackend,
    SmsNotConfigured,
    get_sms_backend,
    send_sms,
    sent_messages,
    sms_deliver_recorded,
    sms_records_erase,
)
from bookings.notifications.texts import (
    BookingConfirmation,
    booking_confirmation_of,
    render_booking_message,
)

__all__ = [
    "EMAIL",
    "SMS",
    "BookingConfirmation",
    "ConsoleSms",
    "DeliveryReport",
    "Failure",
    "NotificationError",
    "SentMessage",
    "SmsBackend",
    "SmsNotConfigured",
    "booking_confirmation_of",
    "deliver_booking_confirmation",
    "deliver_booking_notification",
    "get_sms_backend",
    "render_booking_message",
    "send_email",
    "send_sms",
    "sent_messages",
    "sms_deliver_recorded",
    "sms_notification_send",
    "sms_records_erase",
    "sms_resend",
]
