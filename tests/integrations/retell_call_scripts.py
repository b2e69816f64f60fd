"""The scripts of the conversation suite, one scripted German phone call each."""

from __future__ import annotations

import datetime as dt

from bookings.enums import AppointmentStatus
from tests.integrations.retell_calls import (
    BERLIN_BRANCH_PHONE,
    HAMBURG_BRANCH_PHONE,
    HAMBURG_LINE,
    SATURDAY,
    SUNDAY,
    TENANT_PHONE,
    Script,
    Step,
    at,
    berlin_without_phone,
    block_day,
    booked,
    both,
    call_logged,
    nothing_booked,
)

TUESDAY, WEDNESDAY = dt.date(2026, 11, 24), dt.date(2026, 11, 25)
HERREN = "Herrenhaarschnitt"


def book(date: str, time: str, service: str = "Herrenschnitt", **extra: str) -> dict[str, str]:
    return {"service": service, "date": date, "time": time, "customer_name": "Max Muster", **extra}


BOOKED = "Ihr Termin ist gebucht"

SCRIPTS: list[Script] = [
    # ---------------------------------------------------------------------- booking
    Script(
        "book tomorrow at ten",
        (
            Step(
                "book_appointment",
                book("morgen", "10:00"),
                (BOOKED, "Dienstag, 24. November", "um 10:00 Uhr"),
            ),
        ),
        booked(HERREN, at(TUESDAY, 10)),
    ),
    Script(
        "book on an ordinal day beyond twelve",
        (
            Step(
                "book_appointment",
                book("am fünfzehnten Dezember", "halb drei"),
                (BOOKED, "Dienstag, 15. Dezember", "um 14:30 Uhr"),
            ),
        ),
        booked(HERREN, at(dt.date(2026, 12, 15), 14, 30)),
    ),
    Script(
        "book the thirty-first in Austrian time words",
        (
            Step(
                "book_appointment",
                book("am einunddreißigsten Dezember", "dreiviertel elf", "Färben"),
                (BOOKED, "Färben", "Donnerstag, 31. Dezember", "um 10:45 Uhr"),
            ),
        ),
        booked("Färben", at(dt.date(2026, 12, 31), 10, 45)),
    ),
    Script(
        "book with a weekday and its date",
        (
            Step(
                "book_appointment",
                book("Freitag, den vierten Dezember", "Viertel nach drei"),
                (BOOKED, "Freitag, 4. Dezember", "um 15:15 Uhr"),
            ),
        ),
        booked(HERREN, at(dt.date(2026, 12, 4), 15, 15)),
    ),
    Script(
        "book with a note",
        (
            Step(
                "book_appointment",
                book("übermorgen", "11:00", notes="Ich bringe meinen Hund mit"),
                (BOOKED, "Mittwoch, 25. November"),
            ),
        ),
        booked(HERREN, at(WEDNESDAY, 11), notes="Ich bringe meinen Hund mit"),
    ),
    Script(
        "book with Anna",
        (
            Step(
                "book_appointment",
                book("morgen", "15:00", "Damenschnitt", staff="bei Anna"),
                (BOOKED, "bei Anna Schmidt"),
            ),
        ),
        booked("Damenhaarschnitt", at(TUESDAY, 15), staff="Anna Schmidt"),
    ),
    Script(
        "book with whoever is free",
        (
            Step(
                "book_appointment",
                book("morgen", "16:00", staff="egal wer"),
                (BOOKED, "um 16:00 Uhr"),
            ),
        ),
        booked(HERREN, at(TUESDAY, 16)),
    ),
    Script(
        "book with a note and a wish for Clara",
        (
            Step(
                "book_appointment",
                book(
                    "morgen", "9:30", "Färben", staff="Frau Weber", notes="Allergie gegen Ammoniak"
                ),
                (BOOKED, "bei Clara Weber"),
            ),
        ),
        booked("Färben", at(TUESDAY, 9, 30), staff="Clara Weber", notes="Allergie gegen Ammoniak"),
    ),
    Script(
        "Anna is busy: her own times first",
        (
            Step(
                "book_appointment",
                book("morgen", "11:30", "Damenschnitt", staff="Anna"),
                (BOOKED, "bei Anna Schmidt"),
            ),
            Step(
                "book_appointment",
                {**book("morgen", "11:30", "Damenschnitt", staff="Anna"), "customer_name": "Erika"},
                (
                    "ist Anna Schmidt leider nicht frei",
                    "Bei Anna Schmidt ginge",
                    "Bei einer Kollegin oder einem Kollegen ginge",
                ),
            ),
        ),
        booked("Damenhaarschnitt", at(TUESDAY, 11, 30), staff="Anna Schmidt"),
    ),
    Script(
        "a rough time asks for the exact one",
        (
            Step(
                "book_appointment",
                book("morgen", "nachmittags"),
                ("Zu welcher Uhrzeit soll ich den Termin eintragen?",),
                {"booked": False, "needs_exact_time": True},
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "the same request retried books once",
        (
            Step("book_appointment", book("morgen", "11:30"), (BOOKED,)),
            Step("book_appointment", book("morgen", "11:30"), (BOOKED,)),
        ),
        booked(HERREN, at(TUESDAY, 11, 30)),
    ),
    Script(
        "Swiss words: übermorn, Viertel ab zehn",
        (
            Step(
                "book_appointment",
                book("übermorn", "Viertel ab zehn"),
                (BOOKED, "Mittwoch, 25. November", "um 10:15 Uhr"),
            ),
        ),
        booked(HERREN, at(WEDNESDAY, 10, 15)),
    ),
    # --------------------------------------------------------- what cannot be booked
    Script(
        "unknown service",
        (
            Step(
                "book_appointment",
                book("morgen", "10:00", "Maniküre"),
                ("Diese Leistung bieten wir leider nicht an.", "Herrenhaarschnitt"),
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "unknown staff member",
        (
            Step(
                "book_appointment",
                book("morgen", "10:00", staff="bei Zoe"),
                ("Diese Mitarbeiterin oder diesen Mitarbeiter finde ich hier nicht.",),
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "Sunday: the branch is closed",
        (
            Step(
                "book_appointment",
                book("am neunundzwanzigsten November", "10:00"),
                ("Am Sonntag, 29. November um 10:00 Uhr ist leider kein Termin frei.", "anbieten"),
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "a full day offers the next free times",
        (
            Step(
                "check_availability",
                {"service": "Herrenschnitt", "date": "morgen"},
                (
                    "Am Dienstag, 24. November ist leider nichts mehr frei.",
                    "Die nächsten freien Termine sind",
                ),
            ),
        ),
        nothing_booked(),
        setup=block_day(TUESDAY, "Ben Müller", "Clara Weber"),
    ),
    Script(
        "a taken time offers the nearest ones",
        (
            Step(
                "book_appointment",
                book("morgen", "10:00", "Damenschnitt", staff="Anna"),
                (
                    "ist Anna Schmidt leider nicht frei",
                    "Bei einer Kollegin oder einem Kollegen ginge",
                ),
            ),
        ),
        nothing_booked(),
        setup=block_day(TUESDAY, "Anna Schmidt"),
    ),
    Script(
        "a date in the past",
        (
            Step(
                "book_appointment",
                book("am zwölften November heuer", "10:00"),
                ("Der Donnerstag, 12. November liegt in der Vergangenheit.",),
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "a date nobody understands",
        (
            Step(
                "book_appointment",
                book("irgendwann mal", "10:00"),
                ("Das Datum habe ich nicht verstanden.",),
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "a day that does not exist",
        (
            Step(
                "book_appointment",
                book("am 31.11.", "10:00"),
                ("Das Datum habe ich nicht verstanden.",),
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "Friday the thirteenth is ambiguous",
        (
            Step(
                "book_appointment",
                book("Freitag, den dreizehnten", "10:00"),
                ("Meinen Sie Freitag, 11. Dezember oder Sonntag, 13. Dezember?",),
                {"error": {"type": "ambiguous_date", "options": ["2026-12-11", "2026-12-13"]}},
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "next weekend is ambiguous on a Monday",
        (
            Step(
                "check_availability",
                {"service": "Herrenschnitt", "date": "nächstes Wochenende"},
                ("Meinen Sie Samstag, 28. November oder Samstag, 5. Dezember?",),
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "a time nobody understands",
        (
            Step(
                "book_appointment",
                book("morgen", "wann es passt"),
                ("Die Uhrzeit habe ich nicht verstanden.",),
            ),
        ),
        nothing_booked(),
    ),
    # ------------------------------------------------------------------ availability
    Script(
        "availability tomorrow",
        (
            Step(
                "check_availability",
                {"service": "Herrenschnitt", "date": "morgen"},
                ("Am Dienstag, 24. November sind zum Beispiel diese Zeiten frei",),
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "availability at the end of next week around noon",
        (
            Step(
                "check_availability",
                {"service": "Bart", "date": "Ende nächster Woche", "time": "gegen Mittag"},
                ("Ja, am Freitag, 4. Dezember um 12:00 Uhr ist ein Termin frei.",),
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "availability at the weekend",
        (
            Step(
                "check_availability",
                {"service": "Herrenschnitt", "date": "am Wochenende", "time": "kurz nach zehn"},
                ("Ja, am Samstag, 28. November um 10:00 Uhr ist ein Termin frei.",),
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "availability in Austrian January",
        (
            Step(
                "check_availability",
                {"service": "Damenschnitt", "date": "am vierten Jänner", "time": "um neun"},
                ("Ja, am Montag, 4. Januar um 9:00 Uhr ist ein Termin frei.",),
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "availability in two weeks at lunch break",
        (
            Step(
                "check_availability",
                {"service": "Herrenschnitt", "date": "in zwei Wochen", "time": "12:30"},
                ("Um 12:30 Uhr ist leider nichts frei. Möglich wäre",),
            ),
        ),
        nothing_booked(),
    ),
    # ----------------------------------------------------------- cancel and move
    Script(
        "book, then cancel",
        (
            Step("book_appointment", book("morgen", "14:00"), (BOOKED,)),
            Step(
                "cancel_appointment",
                {"confirmation_number": "{confirmation}"},
                ("Ihr Termin am Dienstag, 24. November um 14:00 Uhr ist storniert.",),
            ),
        ),
        booked(HERREN, at(TUESDAY, 14), status=AppointmentStatus.CANCELLED),
    ),
    Script(
        "cancel twice",
        (
            Step("book_appointment", book("morgen", "14:00"), (BOOKED,)),
            Step(
                "cancel_appointment", {"confirmation_number": "{confirmation}"}, ("ist storniert.",)
            ),
            Step(
                "cancel_appointment",
                {"confirmation_number": "{confirmation}"},
                ("ist bereits storniert.",),
            ),
        ),
        booked(HERREN, at(TUESDAY, 14), status=AppointmentStatus.CANCELLED),
    ),
    Script(
        "cancel with a wrong number",
        (
            Step(
                "cancel_appointment",
                {"confirmation_number": "ZZZZ9999"},
                ("Zu dieser Bestätigungsnummer finde ich unter Ihrer Rufnummer keinen Termin.",),
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "book, then move to the day after tomorrow",
        (
            Step("book_appointment", book("morgen", "14:00"), (BOOKED,)),
            Step(
                "reschedule_appointment",
                {
                    "confirmation_number": "{confirmation}",
                    "date": "übermorgen",
                    "time": "Viertel vor vier",
                },
                ("Ihr Termin ist verschoben auf Mittwoch, 25. November um 15:45 Uhr.",),
            ),
        ),
        booked(HERREN, at(WEDNESDAY, 15, 45)),
    ),
    Script(
        "move to a closed Sunday",
        (
            Step("book_appointment", book("morgen", "14:00"), (BOOKED,)),
            Step(
                "reschedule_appointment",
                {"confirmation_number": "{confirmation}", "date": "Sonntag", "time": "10:00"},
                ("Am Sonntag, 29. November um 10:00 Uhr geht es leider nicht.",),
            ),
        ),
        booked(HERREN, at(TUESDAY, 14)),
    ),
    # ------------------------------------------------------------- opening hours
    Script(
        "opening hours on a weekday",
        (
            Step(
                "route_call",
                {},
                ("Sie sind richtig bei Berlin Mitte.", "Öffnungszeiten heute: 09:00–18:00."),
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "opening hours on a Saturday",
        (Step("route_call", {}, ("Öffnungszeiten heute: 09:00–14:00.",)),),
        nothing_booked(),
        now=SATURDAY,
    ),
    # ------------------------------------------------------------ where the caller is
    Script(
        "Potsdam has no branch: Berlin",
        (
            Step(
                "find_nearest_branch",
                {"address": "Ich bin in Potsdam"},
                ("Am nächsten ist unsere Filiale Berlin Mitte", "Sie ist gerade geöffnet."),
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "Teltow: Berlin",
        (
            Step(
                "find_nearest_branch", {"address": "Teltow"}, ("Berlin Mitte", "etwa 16 Kilometer")
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "Pinneberg: Hamburg",
        (
            Step(
                "find_nearest_branch",
                {"address": "Pinneberg"},
                ("Am nächsten ist unsere Filiale Hamburg Altona",),
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "a Potsdam postal code: Berlin",
        (Step("find_nearest_branch", {"address": "14467"}, ("Berlin Mitte",)),),
        nothing_booked(),
    ),
    Script(
        "a Wedel postal code: Hamburg",
        (Step("find_nearest_branch", {"address": "Postleitzahl 22880"}, ("Hamburg Altona",)),),
        nothing_booked(),
    ),
    Script(
        "a district: Kreuzberg",
        (
            Step(
                "find_nearest_branch",
                {"address": "Berlin-Kreuzberg"},
                ("Berlin Mitte", "etwa 2 Kilometer"),
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "an Austrian postal code with its country: Innsbruck, too far",
        (
            Step(
                "find_nearest_branch",
                {"address": "6020 in Österreich"},
                ("In Ihrer Nähe haben wir leider keine Filiale.",),
                {"place": "Innsbruck"},
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "a Swiss postal code written CH-: Zürich, too far",
        (
            Step(
                "find_nearest_branch",
                {"address": "CH-8001"},
                ("In Ihrer Nähe haben wir leider keine Filiale.",),
                {"place": "Zürich"},
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "a postal code of Austria and of Switzerland: the agent asks which",
        (
            Step(
                "find_nearest_branch",
                {"address": "6020"},
                (
                    "Meinen Sie mit der Postleitzahl 6020 Innsbruck in Österreich oder "
                    "Emmenbrücke in der Schweiz?",
                ),
                {"error": {"type": "location_ambiguous", "countries": ["AT", "CH"]}},
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "a small Austrian town: Zell am See, too far",
        (
            Step(
                "find_nearest_branch",
                {"address": "Ich bin in Zell am See"},
                ("In Ihrer Nähe haben wir leider keine Filiale.",),
                {"place": "Zell am See"},
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "a small Swiss town: Grindelwald, too far",
        (
            Step(
                "find_nearest_branch",
                {"address": "Grindelwald"},
                ("In Ihrer Nähe haben wir leider keine Filiale.",),
                {"place": "Grindelwald"},
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "a small German town without a branch: Zeuthen, Berlin",
        (
            Step(
                "find_nearest_branch",
                {"address": "Ich wohne in Zeuthen"},
                ("Am nächsten ist unsere Filiale Berlin Mitte", "Sie ist gerade geöffnet."),
                {"place": "Zeuthen"},
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "a small town near Hamburg on the Berlin line: Rellingen, Hamburg",
        (
            Step(
                "find_nearest_branch",
                {"address": "Rellingen"},
                ("Am nächsten ist unsere Filiale Hamburg Altona",),
                {"place": "Rellingen"},
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "a town of Austria and of Switzerland: the agent asks which, the caller says",
        (
            Step(
                "find_nearest_branch",
                {"address": "Stans"},
                ("Meinen Sie Stans in Österreich oder Stans in der Schweiz?",),
                {"error": {"type": "location_ambiguous", "countries": ["AT", "CH"]}},
            ),
            Step(
                "find_nearest_branch",
                {"address": "Stans in der Schweiz"},
                ("In Ihrer Nähe haben wir leider keine Filiale.",),
                {"place": "Stans"},
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "a village name found four times in Germany: the agent asks for the postal code",
        (
            Step(
                "find_nearest_branch",
                {"address": "Wald"},
                ("Den Ort Wald gibt es mehrmals. Wie lautet Ihre Postleitzahl?",),
                {"error": {"type": "location_ambiguous", "countries": ["DE"]}},
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "a lake is no village",
        (
            Step(
                "find_nearest_branch",
                {"address": "Ich bin am See"},
                ("Diesen Ort kenne ich leider nicht.",),
                {"error": {"type": "location_unknown"}},
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "Munich is too far",
        (
            Step(
                "find_nearest_branch",
                {"address": "München"},
                ("In Ihrer Nähe haben wir leider keine Filiale.",),
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "a place nobody knows",
        (
            Step(
                "find_nearest_branch",
                {"address": "Entenhausen"},
                ("Diesen Ort kenne ich leider nicht.",),
            ),
        ),
        nothing_booked(),
    ),
    Script(
        "on a Sunday the nearest branch is closed",
        (
            Step(
                "find_nearest_branch",
                {"address": "Potsdam"},
                ("Berlin Mitte", "Sie ist gerade geschlossen."),
            ),
        ),
        nothing_booked(),
        now=SUNDAY,
    ),
    # --------------------------------------------------------------- a person, please
    Script(
        "the caller asks for a person",
        (
            Step(
                "transfer_call",
                {"reason": "Kunde möchte mit einem Menschen sprechen"},
                ("ich verbinde Sie",),
                {"number": BERLIN_BRANCH_PHONE},
            ),
        ),
        both(
            nothing_booked(),
            call_logged(
                "transferred",
                transfer_number=BERLIN_BRANCH_PHONE,
                reason="Kunde möchte mit einem Menschen sprechen",
            ),
        ),
    ),
    Script(
        "transfer after a booking keeps the booking",
        (
            Step("book_appointment", book("morgen", "17:00"), (BOOKED,)),
            Step("transfer_call", {"reason": "Frage zur Rechnung"}, ("ich verbinde Sie",)),
        ),
        both(
            booked(HERREN, at(TUESDAY, 17)),
            call_logged("booked", transfer_number=BERLIN_BRANCH_PHONE, reason="Frage zur Rechnung"),
        ),
    ),
    Script(
        "the Hamburg line transfers to Hamburg",
        (Step("transfer_call", {}, ("ich verbinde Sie",), {"number": HAMBURG_BRANCH_PHONE}),),
        call_logged("transferred", transfer_number=HAMBURG_BRANCH_PHONE),
        line=HAMBURG_LINE,
    ),
    Script(
        "a branch without a phone transfers to the tenant's number",
        (
            Step(
                "transfer_call",
                {"reason": "Agent kann nicht helfen"},
                ("ich verbinde Sie",),
                {"number": TENANT_PHONE},
            ),
        ),
        call_logged("transferred", transfer_number=TENANT_PHONE, reason="Agent kann nicht helfen"),
        setup=berlin_without_phone,
    ),
]
