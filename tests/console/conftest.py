"""Headless Chromium for the console's browser tests (Debian's chromium and chromium-driver,
driven by Selenium). Screenshots land in .artefacts/console/ (git-ignored)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service as DriverService

from tests.conftest import chromedriver_binary, chromium_binary

ARTEFACTS = Path(__file__).resolve().parents[2] / ".artefacts" / "console"


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
        "--lang=en-US",  # the console stays German unless the user picks English
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(
        options=options, service=DriverService(executable_path=chromedriver_binary())
    )
    driver.implicitly_wait(5)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
