"""The golden files the Android app's Java tests read (android_demo/app/src/test/resources/golden)
are what this package computes now: a change to YCbCr, bicubic, the tiler or the metadata must
regenerate them (``python tools/make_android_golden.py``), or the two sides would drift apart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_android_golden_files_are_current():
    result = subprocess.run([sys.executable, "tools/make_android_golden.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
