"""What the benchmark scripts record about the machine they ran on."""

from __future__ import annotations


def cpu_model() -> str:
    """The processor's model name from /proc/cpuinfo, or "" where there is none (not Linux)."""
    try:
        with open("/proc/cpuinfo") as fh:
            return next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        return ""
