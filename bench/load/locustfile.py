"""The load mix of a salon chain's day: phone bookings, API bookings, availability searches and
reporting reads, plus `GET /livez` as the same run's baseline. Run by bench/load/run.py (or by
`locust -f bench/load/locustfile.py` against a server of your own with ASKPROAI_API_KEY and
ASKPROAI_DAY set)."""

from __future__ import annotations

import os
import random

from locust import HttpUser, between, task

API = "/api/v2/mcp"
# Taken slots (409) are part of the mix: many users book the same few days.
ACCEPTED = {
    "api_booking": {201, 409},
    "phone_booking": {200, 201, 409},
    "availability": {200},
    "report_bookings": {200},
    "report_calls": {200},
    "baseline_livez": {200},
}


class Receptionist(HttpUser):
    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Bearer {os.environ['ASKPROAI_API_KEY']}"}
        self.day = os.environ["ASKPROAI_DAY"]

    def _post(self, name: str, path: str, body: dict) -> None:
        with self.client.post(
            f"{API}/{path}", json=body, headers=self.headers, name=name, catch_response=True
        ) as response:
            if response.status_code in ACCEPTED[name]:
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:300]}")

    def _start(self) -> str:
        # Around the demo staff's lunch break (12–13), which a booking may not fall in.
        hour = random.choice((9, 10, 11, 13, 14, 15, 16))  # noqa: S311 — a load mix
        minute = random.choice((0, 30))  # noqa: S311
        return f"{self.day}T{hour:02d}:{minute:02d}:00"

    @task(4)
    def availability(self) -> None:
        body = {"service_id": 2, "date": self.day, "branch_ids": [1]}
        self._post("availability", "bookings/check-availability", body)

    @task(2)
    def api_booking(self) -> None:
        phone = f"0151 2{random.randint(1000000, 9999999)}"  # noqa: S311
        body = {
            "service_id": 2,
            "branch_id": 1,
            "start_time": self._start(),
            "customer_phone": phone,
        }
        self._post("api_booking", "bookings", body)

    @task(2)
    def phone_booking(self) -> None:
        body = {
            "caller_phone": f"+491512{random.randint(1000000, 9999999)}",  # noqa: S311
            "branch_id": 1,
            "service_id": 2,
            "start_time": self._start(),
        }
        self._post("phone_booking", "operations/booking.processPhoneBooking", body)

    @task(1)
    def reports(self) -> None:
        with self.client.get(
            f"{API}/bookings?date={self.day}&branch_id=1",
            headers=self.headers,
            name="report_bookings",
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                response.success()
            else:
                response.failure(f"{response.status_code}")
        self._post("report_calls", "operations/routing.getCallDistribution", {})

    @task(1)
    def baseline(self) -> None:
        self.client.get("/livez", name="baseline_livez")
