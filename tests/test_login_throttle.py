"""Login throttling for Airflow's API server (lanhai/login_throttle.py), on a stand-in app:
the real server is checked in tests/test_airflow_chain.py."""

from __future__ import annotations

import asyncio

from lanhai.login_throttle import LoginThrottle


def _app(answers: dict[str, int]):
    async def app(scope, receive, send):
        code = answers[scope["path"]]
        await send({"type": "http.response.start", "status": code, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    return app


def _post(throttle, path="/auth/token", client="10.0.0.1", method="POST") -> int:
    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "client": (client, 5000)}
    asyncio.run(throttle(scope, None, send))
    return sent[0]["status"]


def test_an_address_that_failed_too_often_is_refused_until_the_window_passes():
    throttle = LoginThrottle(_app({"/auth/token": 401}), max_failures=3, window_seconds=0.5)
    assert [_post(throttle) for _ in range(3)] == [401, 401, 401]
    assert _post(throttle) == 429
    assert _post(throttle, client="10.0.0.2") == 401  # another address is not held back
    import time

    time.sleep(0.6)
    assert _post(throttle) == 401  # the window passed


def test_successful_logins_and_other_requests_are_not_counted():
    throttle = LoginThrottle(_app({"/auth/token": 201, "/api/v2/dags": 401}), max_failures=2,
                             window_seconds=60)
    assert [_post(throttle) for _ in range(5)] == [201] * 5
    assert [_post(throttle, path="/api/v2/dags") for _ in range(5)] == [401] * 5
    assert _post(throttle) == 201
