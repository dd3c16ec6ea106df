"""procscan -- which processes belong to a run: the scenario tests' check that nothing a run
started outlives it (no stray emulator, scheduler, worker or job)."""
import glob
import os
import signal
import subprocess


def processes_under(path):
    """(pid, command line) of every process whose command line mentions path or whose working
    directory is inside it."""
    found = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(d + "/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(d + "/cwd")
        except OSError:
            continue
        if path in cmd or cwd.startswith(path):
            found.append((int(d[6:]), cmd))
    return found


def communicate_or_stop(p, timeout):
    """p.communicate() within timeout seconds; past it, SIGINT to p's session (a dss-scenario
    runner stops everything it started), then SIGKILL a minute later. Returns (out, err, in_time)."""
    try:
        out, err = p.communicate(timeout=timeout)
        return out, err, True
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGINT)
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
        return out, err, False
