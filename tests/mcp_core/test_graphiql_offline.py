"""GraphiQL at `GET /graphql` in headless Chromium (Selenium) that can resolve no host but this
machine: every asset comes from this server (mcp_core/static/graphiql), and a query typed into
the page runs against the API with the key given in its headers editor."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.bookings.test_booking_service import make_world
from tests.conftest import chromedriver_binary, chromium_binary
from tests.factories import ApiKeyFactory

pytestmark = [pytest.mark.webdriver, pytest.mark.django_db(transaction=True)]

EXTERNAL_URL = re.compile(r"""(?:src|href)=["']?(?:https?:)?//""")


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = Options()
    options.binary_location = chromium_binary() or ""
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1440,1000",
        # Every name but this machine's fails to resolve: a CDN asset could not load.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(
        options=options, service=DriverService(executable_path=chromedriver_binary())
    )
    try:
        yield driver
    finally:
        driver.quit()


def test_graphiql_page_names_no_outside_asset(client):
    page = client.get("/graphql", HTTP_ACCEPT="text/html")

    assert page.status_code == 200
    html = page.content.decode()
    assert "graphiql/graphiql.min.js" in html
    assert EXTERNAL_URL.search(html) is None


def test_graphiql_runs_a_query_offline(live_server, browser):
    world = make_world()
    _, token = ApiKeyFactory.create_with_plaintext(tenant=world.tenant, role="readonly")
    query = "{ tenant { tenant { name } } branches { branches { name } } }"
    headers = json.dumps({"Authorization": f"Bearer {token}"})
    browser.get(f"{live_server.url}/graphql?{urlencode({'q': query, 'headers': headers})}")

    wait = WebDriverWait(browser, 60)
    run = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".graphiql-execute-button"))
    run.click()
    wait.until(lambda d: "Berlin Mitte" in d.find_element(By.CSS_SELECTOR, ".result-window").text)

    answer = browser.find_element(By.CSS_SELECTOR, ".result-window").text
    assert "Salon Sonnenschein" in answer
    assert '"errors"' not in answer
    # Everything the page loaded came from this server.
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert loaded, "the page loaded no assets"
    assert all(url.startswith(live_server.url) for url in loaded), loaded
