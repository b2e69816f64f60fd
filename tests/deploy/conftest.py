from tests.integrations.conftest import fake_calcom  # noqa: F401 — the Cal.com fake, shared
