"""Runs every shipped scenario (scenarios/*.json) with its own seed and checks that its
expectations hold -- findings the scenario documents (an invariant it expects to break) are
results, not failures. smoke and blog-example are covered, with their reports, by
test_scenario.py. Each run starts and stops its own emulator, scheduler and workers; the test
checks nothing outlives it."""
import glob
import os
import re
import subprocess
import sys
import unittest

BIN = os.environ.get("DSS_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", "build", "bin")
SOURCE = os.environ.get("DSS_SOURCE") or os.path.join(os.path.dirname(__file__), "..", "..")
SCENARIO = os.path.join(BIN, "dss-scenario")
COVERED = {"smoke.json", "blog-example.json"}


def leftovers(run_dir):
    found = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(d + "/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(d + "/cwd")
        except OSError:
            continue
        if run_dir in cmd or cwd.startswith(run_dir):
            found.append(cmd)
    return found


class TestShippedScenarios(unittest.TestCase):
    def test_each_shipped_scenario(self):
        if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
            self.skipTest("dss-scenario uses no Python client library: its runs are tested under Debian's "
                          "python3 only, to keep CI short")
        files = sorted(f for f in glob.glob(os.path.join(SOURCE, "scenarios", "*.json"))
                       if os.path.basename(f) not in COVERED)
        self.assertTrue(files)
        for path in files:
            with self.subTest(scenario=os.path.basename(path)):
                p = subprocess.run([SCENARIO, "run", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, timeout=600)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertIn(": PASSED", p.stdout)
                m = re.search(r"run directory (\S+)", p.stderr)
                self.assertIsNotNone(m, p.stderr)
                self.assertEqual(leftovers(m.group(1)), [])
                self.assertFalse(os.path.exists(m.group(1)))


if __name__ == "__main__":
    unittest.main()
