from tests.integrations.conftest import calcom, fake_calcom  # noqa: F401 — Cal.com, shared
