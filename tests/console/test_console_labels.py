"""Every admin page in German: each add form's field labels and choices and each list's column
headers, as a superuser (who sees every page) gets them, carry no English label of a model
field or choice that has a German one."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.text import capfirst

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

OURS = ("tenants", "staff", "bookings", "routing", "integrations", "mcp_core")
LABEL = re.compile(r"<label[^>]*>([^<]+)</label>")
OPTION = re.compile(r"<option[^>]*>([^<]+)</option>")
HEADER = re.compile(
    r'<th scope="col"[^>]*>\s*(?:<div class="text">)?\s*(?:<a[^>]*>|<span>)([^<]+)<'
)


def _labels(language: str) -> set[str]:
    """The field and choice labels of our models in `language`."""
    with translation.override(language):
        labels: set[str] = set()
        for model in apps.get_models():
            if model._meta.app_label not in OURS:
                continue
            for field in model._meta.get_fields():
                if hasattr(field, "verbose_name") and not field.auto_created:
                    labels.add(str(capfirst(field.verbose_name)))
                labels.update(str(label) for _value, label in getattr(field, "choices", None) or [])
        return labels


def _english_leftovers(html: str, english_only: set[str]) -> set[str]:
    texts = LABEL.findall(html) + OPTION.findall(html) + HEADER.findall(html)
    return {text for t in texts if (text := unescape(t).strip().rstrip(":")) in english_only}


def test_every_admin_page_shows_german_labels(client):
    english_only = _labels("en") - _labels("de")
    assert "Postal code" in english_only  # the check has something to find
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    leftovers: dict[str, set[str]] = {}
    pages = 0
    for model in admin.site._registry:
        if model._meta.app_label not in OURS:
            continue
        info = (model._meta.app_label, model._meta.model_name)
        for view in ("add", "changelist"):
            try:
                url = reverse("admin:{}_{}_{}".format(*info, view))
            except NoReverseMatch:
                continue
            response = client.get(url)
            if response.status_code != 200:
                continue  # a page nobody may open (add on a read-only record)
            pages += 1
            if found := _english_leftovers(response.content.decode(), english_only):
                leftovers[url] = found
    assert pages > 30
    assert leftovers == {}
