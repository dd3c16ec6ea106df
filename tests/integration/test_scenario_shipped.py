"""Runs each shipped scenario (scenarios/*.json) with its own seed and checks that its expectations
hold -- findings a scenario documents (an invariant it says may break) are results, not failures.
smoke and blog-example are covered, with their reports, by test_scenario.py.

One test method per scenario file, so that scenarios/tests.cmake can register each as its own ctest
entry (scenario/NAME: they run in parallel and time out one by one); run one by hand with
  ctest --test-dir build -R '^scenario/spot-storm-hardened$'
or all of them with `python3 -m unittest -v test_scenario_shipped`. simulated-day (an hour) is
registered for `ctest -C long` only, so CI and a plain ctest leave it out: run it with
ctest -C long -R '^scenario/simulated-day$'. scale-10k runs in CI's normal build (not under ASan).

Expectations live in the scenario files and are written to hold whatever the machine's speed: a
finding that depends on timing (which jobs the seed workflow loses in a Spot storm) is "any", not
"break". Each run starts and stops its own emulator, scheduler and workers; the test checks that
nothing outlives it and kills (and reports) anything that does, also after a failure or timeout.
"""
import glob
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import unittest

from procscan import communicate_or_stop, processes_under

BIN = os.environ.get("DSS_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", "build", "bin")
SOURCE = os.environ.get("DSS_SOURCE") or os.path.join(os.path.dirname(__file__), "..", "..")
SCENARIO = os.path.join(BIN, "dss-scenario")
COVERED = {"smoke.json", "blog-example.json"}  # test_scenario.py


def scenario_files():
    return sorted(f for f in glob.glob(os.path.join(SOURCE, "scenarios", "*.json"))
                  if os.path.basename(f) not in COVERED)


def kill_all(found):
    for pid, _ in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


class TestShippedScenarios(unittest.TestCase):
    def run_scenario(self, path):
        with open(path) as f:
            spec = json.load(f)
        # The runner's own time limit is wall seconds; give it room to stop, drain and check.
        timeout = spec.get("time_limit", 600) + 240
        with tempfile.TemporaryDirectory(prefix="dss-shipped-") as tmp:
            summary_path = os.path.join(tmp, "summary.json")
            p = subprocess.Popen([SCENARIO, "run", path, "--summary", summary_path],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
            err = ""
            try:
                out, err, in_time = communicate_or_stop(p, timeout)
                if not in_time:
                    self.fail("%s did not finish within %d s\n%s%s" % (os.path.basename(path), timeout, out, err))
            finally:
                m = re.search(r"run directory (\S+)", err if p.returncode is not None and err else "")
                if m:
                    stray = processes_under(m.group(1))
                    kill_all(stray)
            self.assertEqual(p.returncode, 0, out + err)
            self.assertIn(": PASSED", out)
            self.assertIsNotNone(m, err)
            self.assertEqual(stray, [], "processes outlived the run")
            self.assertFalse(os.path.exists(m.group(1)), "the run directory was not removed")
            with open(summary_path) as f:
                summary = json.load(f)
            # The summary agrees with the file's expectations: counts by status, and no broken
            # invariant the scenario says must hold.
            self.assertTrue(summary["passed"], json.dumps(summary)[:3000])
            expect = spec.get("expect", {})
            for name, want in expect.get("status", {}).items():
                self.assertEqual(summary["status"].get(name), want, "%s: %s" % (name, json.dumps(summary)[:3000]))
            invariants = expect.get("invariants", {})
            for name, broken in summary["broken"].items():
                if invariants.get(name, "hold") == "hold":
                    self.assertEqual(broken, 0, "%s broken: %s" % (name, json.dumps(summary)[:3000]))
            sys.stderr.write("%s\n" % out.strip())


def _make_test(path):
    def test(self):
        self.run_scenario(path)
    test.__doc__ = "scenarios/%s" % os.path.basename(path)
    return test


for _path in scenario_files():
    _name = "test_" + re.sub(r"[^0-9A-Za-z]", "_", os.path.splitext(os.path.basename(_path))[0])
    setattr(TestShippedScenarios, _name, _make_test(_path))


if __name__ == "__main__":
    unittest.main()
