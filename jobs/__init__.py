"""Spark jobs: landing -> bronze -> silver; run with `python -m lanhai.jobs <name>`."""
