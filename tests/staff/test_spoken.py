"""Services and staff found from what a caller said (staff.spoken)."""

import pytest

from staff.errors import ServiceNotFound, StaffNotFound
from staff.spoken import ServiceAmbiguous, service_match, spoken_key, staff_match
from tests.factories import BranchFactory, CompanyFactory, ServiceFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant():
    company = CompanyFactory()
    ServiceFactory(tenant=company, name="Haarschnitt", synonyms=["Herrenhaarschnitt", "Schnitt"])
    ServiceFactory(tenant=company, name="Färben", synonyms=["Haare färben", "Coloration"])
    ServiceFactory(tenant=company, name="Dauerwelle", synonyms=[])
    ServiceFactory(tenant=company, name="Maniküre", is_active=False)
    return company


def test_spoken_key_folds_case_umlauts_and_punctuation():
    assert spoken_key("  Färben! ") == "faerben"
    assert spoken_key("FAERBEN") == "faerben"
    assert spoken_key("Straße  –  Süd") == "strasse sued"
    assert spoken_key("Café") == "cafe"


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("Haarschnitt", "Haarschnitt"),
        ("haarschnitt", "Haarschnitt"),
        ("HAARSCHNITT", "Haarschnitt"),
        ("Herrenhaarschnitt", "Haarschnitt"),
        ("einen Herrenhaarschnitt bitte", "Haarschnitt"),
        ("Färben", "Färben"),
        ("faerben", "Färben"),
        ("farben", "Färben"),  # umlaut dropped by the speech-to-text: close enough
        ("Haare färben lassen", "Färben"),
        ("coloration", "Färben"),
        ("Dauerwele", "Dauerwelle"),  # misheard
        ("welle", "Dauerwelle"),  # part of exactly one name
    ],
)
def test_service_match(tenant, said, name):
    assert service_match(tenant=tenant, said=said).name == name


def test_an_unknown_or_inactive_service_names_what_there_is(tenant):
    for said in ("Massage", "Maniküre", "", "   "):
        with pytest.raises(ServiceNotFound) as caught:
            service_match(tenant=tenant, said=said)
        assert not isinstance(caught.value, ServiceAmbiguous)
        assert caught.value.details["available"] == ["Dauerwelle", "Färben", "Haarschnitt"]


def test_several_fitting_services_are_ambiguous():
    company = CompanyFactory()
    ServiceFactory(tenant=company, name="Damenhaarschnitt")
    ServiceFactory(tenant=company, name="Herrenhaarschnitt")
    with pytest.raises(ServiceAmbiguous) as caught:
        service_match(tenant=company, said="Haarschnitt")
    assert caught.value.details["candidates"] == ["Damenhaarschnitt", "Herrenhaarschnitt"]
    assert service_match(tenant=company, said="herren haarschnitt").name == "Herrenhaarschnitt"


def test_another_tenants_services_are_not_seen(tenant):
    other = CompanyFactory()
    ServiceFactory(tenant=other, name="Massage")
    with pytest.raises(ServiceNotFound):
        service_match(tenant=tenant, said="Massage")


def test_only_the_branchs_services_when_a_branch_is_given(tenant):
    branch = BranchFactory(tenant=tenant)
    haircut = tenant.services.get(name="Haarschnitt")
    haircut.branches.add(branch)
    assert service_match(tenant=tenant, said="Schnitt", branch_id=branch.pk) == haircut
    with pytest.raises(ServiceNotFound):
        service_match(tenant=tenant, said="Färben", branch_id=branch.pk)


def test_staff_match_by_full_first_or_last_name():
    branch = BranchFactory()
    anna = StaffFactory(branch=branch, name="Anna Schmidt")
    StaffFactory(branch=branch, name="Ben Müller")
    StaffFactory(branch=branch, name="Anna Weber")
    assert staff_match(tenant=branch.tenant, said="Anna Schmidt") == anna
    assert staff_match(tenant=branch.tenant, said="bei Frau Schmidt") == anna
    assert staff_match(tenant=branch.tenant, said="Herrn Mueller").name == "Ben Müller"
    with pytest.raises(StaffNotFound) as caught:
        staff_match(tenant=branch.tenant, said="Anna")
    assert caught.value.details["candidates"] == ["Anna Schmidt", "Anna Weber"]
    with pytest.raises(StaffNotFound):
        staff_match(tenant=branch.tenant, said="Clara")
