"""No secret is committed: detect-secrets (Yelp's scanner: private keys, cloud and service tokens,
passwords in code and config, high-entropy strings) over every tracked file (issue 16).

A deliberate non-secret that trips a detector is marked `# pragma: allowlist secret` on its
line. The PII demo key in conf/local.yaml is public by design (a demo profile only; other
profiles refuse it) and is not what a detector flags."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _scan(files: list[str], cwd: Path = ROOT) -> dict:
    """Findings per file (names relative to `cwd`: the scanner skips files outside it)."""
    out = subprocess.run([sys.executable, "-m", "detect_secrets", "scan", *files], cwd=cwd,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["results"]


def test_no_secret_in_any_tracked_file():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, check=True, capture_output=True,
                             text=True).stdout.split()
    assert len(tracked) > 100
    found = _scan(tracked)
    assert found == {}, {f: [(h["line_number"], h["type"]) for h in hits]
                         for f, hits in found.items()}


def test_the_scan_finds_a_planted_secret(tmp_path):
    planted = tmp_path / "settings.py"
    planted.write_text('aws_access_key_id = "AKIAIOSFODNN7EXAMPLE"\n'  # pragma: allowlist secret
                       'password = "hunter2-but-longer"\n')  # pragma: allowlist secret
    found = _scan([planted.name], cwd=tmp_path)
    kinds = {h["type"] for hits in found.values() for h in hits}
    assert "AWS Access Key" in kinds and "Secret Keyword" in kinds
