"""Cal.com API v2: the client, the calendar backend (`CALENDAR_BACKEND=calcom`) and the
webhook (`POST /webhooks/calcom`)."""
