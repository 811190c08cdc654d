"""Peak resident memory of this process (Linux), shared by the benchmarks."""

from pathlib import Path


def status_bytes(field):
    """A VmXXX line of /proc/self/status in bytes (None off Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def reset_peak_rss():
    """Reset VmHWM to the current resident set (Linux >= 4.0); False if impossible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return status_bytes("VmHWM") == status_bytes("VmRSS")
