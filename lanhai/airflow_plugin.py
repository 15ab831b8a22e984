"""Lanhai's Airflow plugin, registered by the package's `airflow.plugins` entry point: the
login throttle (lanhai/login_throttle.py) as a root middleware of the API server."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from lanhai.login_throttle import LoginThrottle


class LanhaiPlugin(AirflowPlugin):
    name = "lanhai"
    fastapi_root_middlewares = [{"middleware": LoginThrottle, "args": [], "kwargs": {},
                                 "name": "lanhai login throttle"}]
