"""Twilio: the SDK's client (`client`), the SMS backend of the bookings app's SMS port
(`backend`, `SMS_BACKEND=twilio`) and the delivery-status webhook (`webhook`,
`POST /webhooks/sms/status`)."""
