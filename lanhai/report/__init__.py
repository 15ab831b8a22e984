"""The weekly operating review: a report per ISO week from the marts, in Chinese and English,
HTML and PDF, with charts (`lanhai report --week 2025-W23`)."""

from lanhai.report.data import ReportError, load_week, parse_week
from lanhai.report.render import ReportFiles, build_report

__all__ = ["ReportError", "ReportFiles", "build_report", "load_week", "parse_week"]
