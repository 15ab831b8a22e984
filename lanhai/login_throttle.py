"""Login throttling for Airflow's API server (installed by lanhai/airflow_plugin.py). No
Airflow import here: importing Airflow reads its configuration, which must not happen before
the project has set Airflow's environment.

Airflow 3's simple auth manager answers every wrong password at once, so nothing slows down a
guesser. `LoginThrottle` (a root ASGI middleware) counts each client address's failed logins
(`POST /auth/token...` answered 401) and, after `LANHAI_LOGIN_MAX_FAILURES` (5) within
`LANHAI_LOGIN_WINDOW_SECONDS` (300), answers that address's logins with 429 and a Retry-After
until the window has passed. A correct login does not reset the count (a guesser who finds the
password in the window must still wait)."""

from __future__ import annotations

import os
import time
from collections import defaultdict, deque


class LoginThrottle:
    """Refuse logins from an address that failed too often recently (HTTP 429)."""

    def __init__(self, app, max_failures: int | None = None,
                 window_seconds: float | None = None) -> None:
        self.app = app
        self.max_failures = max_failures or int(os.environ.get("LANHAI_LOGIN_MAX_FAILURES", "5"))
        self.window = window_seconds or float(os.environ.get("LANHAI_LOGIN_WINDOW_SECONDS", "300"))
        self.failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self.failures[client]
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" \
                or not scope["path"].startswith("/auth/token"):
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("?", 0))[0]
        now = time.monotonic()
        times = self._recent(client, now)
        if len(times) >= self.max_failures:
            wait = int(self.window - (now - times[0])) + 1
            await send({"type": "http.response.start", "status": 429, "headers": [
                (b"content-type", b"application/json"), (b"retry-after", str(wait).encode())]})
            await send({"type": "http.response.body", "body": (
                b'{"detail": "too many failed logins from this address: try again later"}')})
            return None
        status = {}

        async def record(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, record)
        if status.get("code") == 401:
            times.append(time.monotonic())
        return None
