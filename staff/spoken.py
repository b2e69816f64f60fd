"""Finding a service or a staff member from what a caller said ("Herrenschnitt", "färben",
"bei Anna"): case, umlaut and accent insensitive, against names and each service's synonyms
(`Service.synonyms`, kept per tenant in the admin).

Order of preference, first unique hit wins: the whole phrase equals a name or synonym; the
phrase contains one (longest wins: "einen Herrenhaarschnitt bitte"); one contains the phrase
("haarschnitt" when only one service's name holds it); a close spelling (difflib). Several
services tied at the same step is `ServiceAmbiguous`, so the agent can ask which one.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

from staff.errors import ServiceNotFound, StaffNotFound
from staff.models import Service, Staff
from tenants.models import Company

FUZZY_CUTOFF = 0.84


class ServiceAmbiguous(ServiceNotFound):
    """Several services fit what was said; details.candidates names them."""


def spoken_key(text: str) -> str:
    """Lower case, ä/ö/ü/ß spelled out, accents and punctuation dropped, spaces collapsed."""
    text = text.strip().lower()
    for umlaut, spelled in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(umlaut, spelled)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9]+", " ", text)).strip()


@dataclass(frozen=True)
class _Phrase:
    key: str
    service_id: int


def _unique(ids: set[int], services: dict[int, Service], said: str) -> Service | None:
    if len(ids) == 1:
        return services[next(iter(ids))]
    if len(ids) > 1:
        names = sorted(services[pk].name for pk in ids)
        raise ServiceAmbiguous(
            f"'{said}' fits several services: {', '.join(names)}.",
            details={"service": said, "candidates": names},
        )
    return None


def service_match(*, tenant: Company, said: str, branch_id: int | None = None) -> Service:
    """The tenant's active service the caller means (offered at `branch_id` when given).

    Raises ServiceNotFound (details.available lists what there is) and ServiceAmbiguous."""
    queryset = Service.objects.for_tenant(tenant).filter(is_active=True)
    if branch_id is not None:
        queryset = queryset.filter(branches__id=branch_id)
    services = {service.pk: service for service in queryset.distinct()}
    phrases = [
        _Phrase(spoken_key(text), service.pk)
        for service in services.values()
        for text in [service.name, *(s for s in service.synonyms or [] if isinstance(s, str))]
        if spoken_key(text)
    ]
    key = spoken_key(said)
    if key:
        found = _unique({p.service_id for p in phrases if p.key == key}, services, said)
        if found:
            return found
        padded = f" {key} "
        inside = [p for p in phrases if f" {p.key} " in padded]
        if inside:
            longest = max(len(p.key) for p in inside)
            found = _unique({p.service_id for p in inside if len(p.key) == longest}, services, said)
            if found:
                return found
        found = _unique(
            {p.service_id for p in phrases if len(key) >= 4 and key in p.key}, services, said
        )
        if found:
            return found
        close = difflib.get_close_matches(key, [p.key for p in phrases], n=3, cutoff=FUZZY_CUTOFF)
        found = _unique({p.service_id for p in phrases if p.key in close[:1]}, services, said)
        if found:
            return found
    names = sorted(service.name for service in services.values())
    raise ServiceNotFound(
        f"No service fits '{said}'.", details={"service": said, "available": names}
    )


def staff_match(*, tenant: Company, said: str, branch_id: int | None = None) -> Staff:
    """The active staff member the caller named: full name, first or last name.

    Raises StaffNotFound when none or several fit."""
    queryset = Staff.objects.for_tenant(tenant).filter(is_active=True)
    if branch_id is not None:
        queryset = queryset.filter(branch_id=branch_id)
    key = spoken_key(said)
    words = set(key.split()) - {"bei", "frau", "herr", "herrn", "mit", "von"}
    hits = []
    for member in queryset:
        name_key = spoken_key(member.name)
        if name_key == key or words & set(name_key.split()):
            hits.append(member)
    exact = [m for m in hits if spoken_key(m.name) == key]
    if len(exact) == 1:
        return exact[0]
    if len(hits) == 1:
        return hits[0]
    raise StaffNotFound(
        f"No single staff member fits '{said}'.",
        details={"staff": said, "candidates": sorted(m.name for m in hits)},
    )
