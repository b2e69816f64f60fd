"""The booking functions of the phone agent: check_availability, book_appointment,
cancel_appointment and reschedule_appointment (docs/contract.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from bookings.enums import AppointmentStatus
from common.errors import ErrorType
from integrations.retell import speech
from integrations.retell.requests import (
    OFFERED_SLOTS,
    SOURCE,
    Answer,
    Call,
    Say,
    distinct,
    local,
    spoken_error,
    spoken_service_id,
)
from mcp_core.orchestrator import execute_named
from mcp_core.permissions import Role
from routing.calls import call_log_link
from routing.enums import CallOutcome


def check_availability(request: Call) -> Answer:
    branch = request.branch()
    day = request.date()
    wished = request.optional_time()
    chosen_service = spoken_service_id(request, branch)
    found = request.run(
        "booking.checkAvailability",
        {"service_id": chosen_service, "date": day.isoformat(), "branch_ids": [branch.pk]},
    )
    slots = distinct(found["slots"])
    data: dict[str, Any] = {
        "date": day.isoformat(),
        "time": wished.strftime("%H:%M") if wished else None,
        "slots": [],
    }
    today, zone = request.today, ZoneInfo(branch.time_zone)
    if wished is not None:
        exact = [s for s in slots if local(s["start"], zone).time() == wished]
        if exact:
            data["slots"] = exact[:1]
            return Answer(
                f"Ja, am {speech.day(day)} um {speech.clock(wished)} Uhr ist ein Termin frei.",
                data,
            )
        target = dt.datetime.combine(day, wished, zone)
        slots = sorted(
            slots,
            key=lambda s: (abs((local(s["start"], zone) - target).total_seconds()), s["start"]),
        )
    offered = sorted(slots[:OFFERED_SLOTS], key=lambda s: s["start"])
    if not offered and found.get("next_available"):
        later = dt.datetime.fromisoformat(found["next_available"]["start"])
        following = request.run(
            "booking.getBookingSlots",
            {
                "service_id": chosen_service,
                "branch_id": branch.pk,
                "start_date": later.astimezone(zone).date().isoformat(),
            },
        )
        offered = [
            s
            for s in distinct(following["slots"])
            if dt.datetime.fromisoformat(s["start"]) >= later
        ][:OFFERED_SLOTS]
    data["slots"] = offered
    listed = speech.slot_list([s["start"] for s in offered], zone, today=today)
    if not offered:
        return Answer(
            f"Am {speech.day(day)} und in den Wochen danach ist leider kein Termin mehr frei.",
            data,
        )
    if wished is not None and slots:
        return Answer(
            f"Um {speech.clock(wished)} Uhr ist leider nichts frei. Möglich wäre {listed}. "
            "Was passt Ihnen?",
            data,
        )
    if not slots:
        return Answer(
            f"Am {speech.day(day)} ist leider nichts mehr frei. Die nächsten freien Termine "
            f"sind {listed}. Passt Ihnen einer davon?",
            data,
        )
    return Answer(
        f"Am {speech.day(day)} sind zum Beispiel diese Zeiten frei: {listed}. Was passt Ihnen?",
        data,
    )


def book_appointment(request: Call) -> Answer:
    wish = request.booking()
    if not wish.spoken.exact:
        # "gegen zehn", "nachmittags": what is free around then, and the caller picks a time.
        offered = check_availability(request)
        return Answer(
            f"{offered.result} Zu welcher Uhrzeit soll ich den Termin eintragen?",
            {**offered.data, "booked": False, "needs_exact_time": True},
        )
    outcome = request.run("booking.processPhoneBooking", wish.args)
    day, wished, zone = wish.day, wish.spoken.time, wish.zone
    if not outcome["booked"]:
        return Answer(
            _not_free(outcome, day, wished, zone, wish.today),
            {"booked": False, **_booking_data(outcome)},
        )
    appointment = outcome["appointment"]
    if wish.args["call_id"]:
        call_log_link(
            tenant=request.line.tenant,
            branch=wish.branch,
            call=request.call,
            appointment_id=appointment["id"],
            outcome=CallOutcome.BOOKED,
        )
    start = dt.datetime.fromisoformat(appointment["start_time"]).astimezone(zone)
    sentence = (
        f"Ihr Termin ist gebucht: {outcome['service']['name']} am {speech.day(start.date())} "
        f"um {speech.clock(start)} Uhr bei {outcome['staff']['name']}. Ihre "
        f"Bestätigungsnummer ist {outcome['confirmation_number']}."
    )
    if "sms" in outcome["notifications_sent"]:
        sentence += " Sie bekommen gleich eine SMS zur Bestätigung."
    return Answer(sentence, {"booked": True, **_booking_data(outcome)})


def _booking_data(outcome: dict[str, Any]) -> dict[str, Any]:
    return {
        "appointment": outcome["appointment"],
        "confirmation_number": outcome["confirmation_number"],
        "service": outcome["service"],
        "staff": outcome["staff"],
        "alternatives": outcome["alternatives"],
        "wished_staff": outcome.get("wished_staff"),
    }


def _not_free(
    outcome: dict[str, Any], day: dt.date, wished: dt.time, zone: ZoneInfo, today: dt.date
) -> str:
    """The refusal, with the alternatives: the wished staff member's first, then a
    colleague's."""
    when = f"Am {speech.day(day)} um {speech.clock(wished)} Uhr"
    alternatives = outcome["alternatives"]
    person = outcome.get("wished_staff")
    if person is None:
        sentence = f"{when} ist leider kein Termin frei."
        starts = [slot["start"] for slot in alternatives]
        if starts:
            sentence += f" Ich kann Ihnen {speech.slot_list(starts, zone, today=today)} anbieten."
        return sentence
    own = [slot["start"] for slot in alternatives if slot["staff_id"] == person["id"]]
    others = [slot["start"] for slot in alternatives if slot["staff_id"] != person["id"]]
    sentence = f"{when} ist {person['name']} leider nicht frei."
    if own:
        sentence += f" Bei {person['name']} ginge {speech.slot_list(own, zone, today=today)}."
    if others:
        listed = speech.slot_list(others, zone, today=today)
        sentence += f" Bei einer Kollegin oder einem Kollegen ginge {listed}."
    return sentence


def cancel_appointment(request: Call) -> Answer:
    appointment = request.appointment()
    start = appointment.start_time.astimezone(ZoneInfo(appointment.branch.time_zone))
    when = f"am {speech.day(start.date())} um {speech.clock(start)} Uhr"
    if appointment.status == AppointmentStatus.CANCELLED:
        # A retried call, or the caller cancelling twice: the result they want is there.
        return Answer(
            f"Ihr Termin {when} ist bereits storniert.",
            {"cancelled": True, "confirmation_number": appointment.confirmation_number},
        )
    done = request.run(
        "booking.cancelBooking",
        {"appointment_id": appointment.pk, "reason": "Telefonisch vom Kunden abgesagt"},
    )
    _link(request, appointment.pk, CallOutcome.CANCELLED)
    return Answer(
        f"Ihr Termin {when} ist storniert.",
        {"cancelled": True, "appointment": done["appointment"]},
    )


def reschedule_appointment(request: Call) -> Answer:
    appointment = request.appointment()
    day = request.date()
    wished = request.time()
    if appointment.status not in (AppointmentStatus.CONFIRMED, AppointmentStatus.PENDING):
        raise Say(
            "Dieser Termin ist nicht mehr aktiv und kann nicht verschoben werden.",
            error="not_active",
        )
    target = dt.datetime.combine(day, wished)
    zone, today = ZoneInfo(appointment.branch.time_zone), request.today
    # Moving one's own appointment, proven by the caller's number and its confirmation
    # number: the orchestrator's rescheduleBooking asks for the manager's permission, which
    # covers moving other people's bookings; this principal may only reach this one.
    result = execute_named(
        request.principal(Role.MANAGER),
        "booking.rescheduleBooking",
        {"appointment_id": appointment.pk, "start_time": target.isoformat()},
        source=SOURCE,
    )
    if result.error is not None:
        if result.error.error_type in (ErrorType.CONFLICT, ErrorType.VALIDATION_FAILED):
            starts = [s["start"] for s in result.error.details.get("next_available", [])]
            sentence = f"Am {speech.day(day)} um {speech.clock(wished)} Uhr geht es leider nicht."
            if starts:
                sentence += f" Möglich wäre {speech.slot_list(starts, zone, today=today)}."
            return Answer(
                sentence,
                {
                    "rescheduled": False,
                    "alternatives": result.error.details.get("next_available", []),
                },
            )
        raise spoken_error(result.error)
    moved = (result.data or {})["appointment"]
    _link(request, appointment.pk, CallOutcome.RESCHEDULED)
    start = local(moved["start_time"], zone)
    return Answer(
        f"Ihr Termin ist verschoben auf {speech.day(start.date())} um {speech.clock(start)} "
        f"Uhr. Die Bestätigungsnummer bleibt {moved['confirmation_number']}.",
        {"rescheduled": True, "appointment": moved},
    )


def _link(request: Call, appointment_id: int, outcome: str) -> None:
    if request.call_id:
        call_log_link(
            tenant=request.line.tenant,
            branch=request.line.branch,
            call=request.call,
            appointment_id=appointment_id,
            outcome=outcome,
        )
