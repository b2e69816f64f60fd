"""The phone agent's functions about where to go and whom to talk to: route_call,
find_nearest_branch and transfer_call (docs/contract.md)."""

from __future__ import annotations

from typing import Any

from integrations.retell.requests import Answer, Call, Say
from routing.calls import call_log_transfer
from routing.places import PlaceAmbiguous, place_find


def route_call(request: Call) -> Answer:
    routed = request.run("routing.routeIncomingCall", {"phone_number": request.line.number.number})
    branch = routed.get("branch")
    decision = routed["routing_decision"]
    data = {
        "routing_decision": decision,
        "branch": branch,
        "agent_id": routed["agent"]["agent_id"],
        "estimated_wait_time": routed["estimated_wait_time"],
        "transfer_number": branch["phone"] if branch else None,
        "fallback_number": routed["routing_metadata"].get("fallback_number"),
    }
    if branch is None:
        return Answer(
            "Gerade ist leider keine Filiale erreichbar. Ich kann aber gern einen Termin für "
            "Sie eintragen.",
            data,
        )
    hours = branch.get("opening_hours_today") or ""
    if decision == "branch_specific":
        sentence = f"Sie sind richtig bei {branch['name']}."
    else:
        sentence = f"Ich verbinde Sie mit unserer Filiale {branch['name']}, {branch['address']}."
    if hours:
        sentence += f" Öffnungszeiten heute: {hours}."
    return Answer(sentence, data)


def find_nearest_branch(request: Call) -> Answer:
    """The nearest branch to where the caller is, an open one first: coordinates as given,
    else the place, town, district or postal code they said, resolved offline."""
    lat, lng = request.args.get("lat"), request.args.get("lng")
    address = request.text("address")
    place: str | None = None
    if isinstance(lat, int | float | str) and isinstance(lng, int | float | str):
        try:
            location = {"lat": float(lat), "lng": float(lng)}
        except ValueError as exc:
            raise Say("Den Standort habe ich nicht verstanden.", error="invalid_location") from exc
    elif address:
        try:
            found = place_find(address, country=request.line.branch.country)
        except PlaceAmbiguous as exc:
            raise Say(exc.question, error="location_ambiguous", countries=exc.countries) from exc
        if found is None:
            raise Say(
                "Diesen Ort kenne ich leider nicht. Nennen Sie mir bitte Ihre Postleitzahl "
                "oder die nächste größere Stadt.",
                error="location_unknown",
            )
        location, place = {"lat": found.point.lat, "lng": found.point.lng}, found.name
    else:
        raise Say(
            "Wo sind Sie gerade? Nennen Sie mir bitte Ihre Postleitzahl oder Ihren Ort.",
            error="missing_argument",
        )
    found_branches = request.run("routing.findNearestBranch", {"location": location})
    branches = found_branches["branches"]
    data: dict[str, Any] = {"location": location, "place": place, "branches": branches}
    if not branches:
        return Answer("In Ihrer Nähe haben wir leider keine Filiale.", data)
    open_now = [branch for branch in branches if branch["available_now"]]
    best = (open_now or branches)[0]
    data["branch"] = best
    sentence = (
        f"Am nächsten ist unsere Filiale {best['name']}, {best['address']}, "
        f"{_km(best['distance_km'])} entfernt."
    )
    if best["available_now"] and best is not branches[0]:
        sentence = (
            f"Unsere nächste geöffnete Filiale ist {best['name']}, {best['address']}, "
            f"{_km(best['distance_km'])} entfernt."
        )
    sentence += (
        " Sie ist gerade geöffnet." if best["available_now"] else " Sie ist gerade geschlossen."
    )
    return Answer(sentence, data)


def transfer_call(request: Call) -> Answer:
    """The number to hand the caller to: the branch's own, else the tenant's; logged on the
    call with the reason (the caller asked for a person, or the agent could not help)."""
    branch = request.branch()
    number = branch.phone or request.line.tenant.phone
    reason = request.text("reason")[:200]
    if not number:
        raise Say(
            "Ich kann Sie gerade leider nicht weiterverbinden. Kann ich Ihnen anders helfen?",
            error="no_transfer_number",
        )
    if request.call_id:
        call_log_transfer(
            tenant=request.line.tenant,
            branch=branch,
            call=request.call,
            number=number,
            reason=reason,
        )
    return Answer(
        "Einen Moment bitte, ich verbinde Sie mit einer Mitarbeiterin oder einem Mitarbeiter.",
        {"number": number, "branch_id": branch.pk},
    )


def _km(distance: float) -> str:
    if distance < 1:
        return "weniger als einen Kilometer"
    rounded = round(distance)
    return "etwa einen Kilometer" if rounded == 1 else f"etwa {rounded} Kilometer"
