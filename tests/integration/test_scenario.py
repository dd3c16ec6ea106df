"""dss-scenario end to end: real runs against a real emulator, scheduler and workers, the checker
on hand-written traces, the reports in a real browser (Debian's headless chromium), Ctrl-C
cleanup, --repeat, replay and sweep.

Every test uses its own temporary directory and the runner's own processes; after each run it
checks that nothing the run started is still alive.
"""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

from procscan import processes_under

BIN = os.environ.get("DSS_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", "build", "bin")
SOURCE = os.environ.get("DSS_SOURCE") or os.path.join(os.path.dirname(__file__), "..", "..")
SCENARIO = os.path.join(BIN, "dss-scenario")
SCENARIOS = os.path.join(SOURCE, "scenarios")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def run(*args, timeout=300, **kw):
    p = subprocess.run([SCENARIO] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, **kw)
    return p.returncode, p.stdout, p.stderr


def run_dir_of(stderr):
    m = re.search(r"run directory (\S+)", stderr)
    return m.group(1) if m else None


def render(test, html_path):
    """Loads a report in headless chromium; returns its DOM after the page's script ran. Fails
    the test on any console message or script error."""
    if not CHROMIUM:
        test.skipTest("chromium is not installed (ci/setup installs Debian's chromium package)")
    profile = tempfile.mkdtemp(prefix="dss-chromium-")
    try:
        p = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                            "--no-first-run", "--disable-background-networking", "--disable-component-update",
                            "--disable-sync", "--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0",
                            "--virtual-time-budget=5000", "--dump-dom", "file://" + os.path.abspath(html_path)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120,
                           start_new_session=True)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    dom = p.stdout
    console = [l for l in p.stderr.splitlines() if "CONSOLE" in l]
    test.assertEqual(console, [], "the page logged to the console")
    m = re.search(r'id="render-status" data-errors="(\d+)">([^<]*)<', dom)
    test.assertIsNotNone(m, "the page never finished rendering:\n" + dom[-2000:])
    test.assertEqual(m.group(1), "0", "script errors: " + m.group(2))
    return dom


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class TestScenarioOffline(unittest.TestCase):
    """No emulator: the loader's messages, the checker and the reports on hand-written traces."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="test_scenario-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_validate_names_the_field(self):
        bad = os.path.join(self.tmp, "bad.json")
        write(bad, json.dumps({"name": "x", "jobs": [{"id": "a"}],
                               "faults": [{"type": "spot_interruption", "rate": 0.1},
                                          {"type": "worker_crash", "rate": 3}]}))
        rc, out, err = run("validate", bad)
        self.assertEqual(rc, 1)
        self.assertIn("faults[1].rate: must be between 0 and 1", err)
        rc, out, err = run("run", bad)
        self.assertEqual(rc, 2)
        self.assertIn("faults[1].rate", err)
        rc, out, err = run("validate", os.path.join(SCENARIOS, "smoke.json"))
        self.assertEqual(rc, 0, err)
        self.assertIn("3 job(s)", out)

    def test_every_shipped_scenario_loads(self):
        files = sorted(glob.glob(os.path.join(SCENARIOS, "*.json")))
        self.assertGreaterEqual(len(files), 2)
        rc, out, err = run("validate", *files)
        self.assertEqual(rc, 0, err)

    def test_check_report_and_junit_of_a_violating_trace(self):
        lines = [
            {"vt": 0, "kind": "run.start", "details": {"name": "hand", "seed": 3, "mode": "real"}},
            {"vt": 0, "kind": "job.submit", "job": "a", "details": {"retry": 1, "success_string": "ok", "via": "sqs"}},
            {"vt": 0, "kind": "job.submit", "job": "b", "details": {"retry": 1, "success_string": " ", "via": "sqs"}},
            {"vt": 100, "kind": "instance.state", "instance": "i-1", "details": {"state": "running"}},
            {"vt": 1000, "kind": "attempt.start", "job": "a", "attempt": 1, "instance": "i-1"},
            {"vt": 1500, "kind": "attempt.start", "job": "b", "attempt": 1, "instance": "i-1"},
            {"vt": 1600, "kind": "attempt.fault", "job": "b", "attempt": 1, "instance": "i-1",
             "details": {"fault": "spot_interruption", "phase": "running"}},
            {"vt": 2000, "kind": "attempt.end", "job": "a", "attempt": 1, "instance": "i-1",
             "details": {"exit_code": 0, "success_printed": True}},
            {"vt": 2500, "kind": "instance.state", "instance": "i-1", "details": {"state": "terminated"}},
            {"vt": 3000, "kind": "queue.depth", "details": {"visible": 0, "inflight": 0, "instances": 0}},
            {"vt": 4000, "kind": "final.job", "job": "a",
             "details": {"status": "Successful", "retries": "0 of 1", "output": "ok", "finished": 1, "failed": 0}},
            {"vt": 4000, "kind": "final.job", "job": "b",
             "details": {"status": "Successful", "retries": "0 of 1", "output": "null", "finished": 1, "failed": 0}},
            {"vt": 4000, "kind": "final.group", "details": {"desired": 0, "instances": [], "workers": []}},
            {"vt": 4000, "kind": "run.end", "details": {"reason": "hand-written"}},
        ]
        trace = os.path.join(self.tmp, "t.jsonl")
        write(trace, "\n".join(json.dumps(l) for l in lines) + "\n")
        report, junit = os.path.join(self.tmp, "r.html"), os.path.join(self.tmp, "j.xml")
        rc, out, err = run("check", trace, "--report", report, "--junit", junit)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("no_false_success: b is Successful but no attempt of it ran to completion", out)
        self.assertIn("(trace lines 3 6 7 12)", out)
        suite = ET.parse(junit).getroot().find("testsuite")
        self.assertEqual(suite.get("failures"), "1")
        failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
        self.assertEqual(failed, ["invariant.no_false_success"])
        dom = render(self, report)
        self.assertIn("FAILED", dom)
        # The violation links to b's bar in the timeline and to the trace lines it cites.
        m = re.search(r'<li id="v-0">.*?</li>', dom, re.S)
        self.assertIsNotNone(m)
        bar = re.search(r'href="#(att-\d+)"', m.group(0)).group(1)
        self.assertRegex(dom, r'<rect class="attempt c-interrupted" id="%s"' % bar)
        for line in (3, 6, 7, 12):
            self.assertIn('href="#L%d"' % line, m.group(0))
            self.assertIn('id="L%d"' % line, dom)
        self.assertIn('class="attempt c-success"', dom)
        self.assertIn('class="mark m-spot"', dom)
        self.assertIn('class="series-visible"', dom)

    def test_bad_trace_is_an_error(self):
        trace = os.path.join(self.tmp, "t.jsonl")
        write(trace, '{"vt":0,"kind":"run.start"}\n{"vt":"x"}\n')
        rc, out, err = run("check", trace)
        self.assertEqual(rc, 2)
        self.assertIn("line 2: vt:", err)


class TestScenarioRuns(unittest.TestCase):
    """Real runs: the emulator, the scheduler and worker processes, started and stopped by the
    runner."""

    def setUp(self):
        if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
            self.skipTest("dss-scenario uses no Python client library: its runs are tested under Debian's "
                          "python3 only, to keep CI short")
        self.tmp = tempfile.mkdtemp(prefix="test_scenario-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def assert_clean(self, stderr):
        d = run_dir_of(stderr)
        self.assertIsNotNone(d, stderr)
        self.assertEqual(processes_under(d), [], "processes outlived the run")
        self.assertFalse(os.path.exists(d), "the run directory was not removed")

    def test_smoke_run_repeat_and_replay(self):
        trace, report = os.path.join(self.tmp, "t.jsonl"), os.path.join(self.tmp, "r.html")
        junit, summary = os.path.join(self.tmp, "j.xml"), os.path.join(self.tmp, "s.json")
        rc, out, err = run("run", os.path.join(SCENARIOS, "smoke.json"), "--trace", trace, "--report", report,
                           "--junit", junit, "--summary", summary, "--repeat", "2")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("repeat 2: per-job histories identical to run 1", out)
        for d in re.findall(r"run directory (\S+)", err):
            self.assertEqual(processes_under(d), [])
            self.assertFalse(os.path.exists(d))
        with open(summary) as f:
            s = json.load(f)
        self.assertEqual(len(s), 2)
        self.assertTrue(all(x["passed"] for x in s))
        self.assertEqual(s[0]["status"]["Successful"], 3)
        first = os.path.join(self.tmp, "t-1.jsonl")
        with open(first) as f:
            events = [json.loads(l) for l in f]
        self.assertEqual(events[0]["kind"], "run.start")
        self.assertEqual(events[-1]["kind"], "run.end")
        kinds = {e["kind"] for e in events}
        for k in ("job.submit", "decision", "attempt.start", "attempt.end", "instance.state", "queue.depth",
                  "final.job", "final.group"):
            self.assertIn(k, kinds)
        suite = ET.parse(os.path.join(self.tmp, "j-1.xml")).getroot().find("testsuite")
        self.assertEqual(suite.get("failures"), "0")
        dom = render(self, os.path.join(self.tmp, "r-1.html"))
        self.assertIn("PASSED", dom)
        self.assertEqual(len(re.findall(r'class="attempt c-success"', dom)), 3)
        # Replaying the recorded trace reproduces every job's history.
        rc, out, err = run("replay", first, "--quiet")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("every job's history matches the recorded trace", out)

    def test_simulated_smoke_repeats_byte_for_byte(self):
        """Simulated mode (virtual time, workers inside the emulator): three runs of one seed give
        the same trace, byte for byte, and the runner says so."""
        trace = os.path.join(self.tmp, "t.jsonl")
        rc, out, err = run("run", os.path.join(SCENARIOS, "smoke-simulated.json"), "--trace", trace, "--repeat", "3")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(out.count(": PASSED"), 3, out)
        hashes = re.findall(r"trace sha256 ([0-9a-f]{64})", out)
        self.assertGreaterEqual(len(hashes), 3, out)
        self.assertEqual(len(set(hashes)), 1, out)
        self.assertIn("repeat 2: trace sha256 %s identical to run 1" % hashes[0], out)
        self.assertIn("repeat 3: trace sha256 %s identical to run 1" % hashes[0], out)
        texts = []
        for i in (1, 2, 3):
            with open(os.path.join(self.tmp, "t-%d.jsonl" % i), "rb") as f:
                texts.append(f.read())
        self.assertEqual(texts[0], texts[1])
        self.assertEqual(texts[0], texts[2])
        events = [json.loads(l) for l in texts[0].decode().splitlines()]
        self.assertEqual(events[0]["details"]["mode"], "simulated")
        self.assertEqual(sum(e["kind"] == "attempt.end" for e in events), 3)
        for d in re.findall(r"run directory (\S+)", err):
            self.assertEqual(processes_under(d), [])
            self.assertFalse(os.path.exists(d))

    def test_simulated_faults_hit_the_planned_attempts(self):
        """A worker crash and a Spot interruption planned for first attempts happen on the virtual
        clock at their phase, and the run repeats with the same trace."""
        with open(os.path.join(SCENARIOS, "smoke-simulated.json")) as f:
            scn = json.load(f)
        scn["emulator"] = {"spot_notice": 20, "ssm_dead_agent": "terminated"}
        scn["jobs"] = [{"count": 3, "id": "f-{i}", "runtime": 600, "retry": 3}]
        scn["faults"] = [{"type": "worker_crash", "job": "f-0", "attempt": 1, "phase": "running"},
                         {"type": "spot_interruption", "job": "f-1", "attempt": 1, "phase": "started", "notice": 20}]
        scn["fleet"]["max_instances"] = 3
        # The seed workflow keeps its execution on the dead instance: SendCommand fails there and
        # each failure spends a retry, so both interrupted jobs end Failed "3 of 3" after one attempt.
        scn["expect"] = {"status": {"Successful": 1, "Failed": 2},
                         "jobs": {"f-0": {"status": "Failed", "attempts": 1}, "f-1": {"status": "Failed", "attempts": 1},
                                  "f-2": {"status": "Successful", "attempts": 1}}}
        path = os.path.join(self.tmp, "faults.json")
        write(path, json.dumps(scn))
        trace = os.path.join(self.tmp, "t.jsonl")
        rc, out, err = run("run", path, "--trace", trace, "--repeat", "2")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("repeat 2: trace sha256", out)
        self.assertNotIn("DIFFERS", out)
        with open(os.path.join(self.tmp, "t-1.jsonl")) as f:
            events = [json.loads(l) for l in f]
        faults = sorted((e["job"], e["details"]["fault"]) for e in events if e["kind"] == "attempt.fault")
        self.assertEqual(faults, [("f-0", "worker_crash"), ("f-1", "spot_interruption")])
        # The crash came half-way through the 600 s run, on the virtual clock.
        start = next(e["vt"] for e in events if e["kind"] == "attempt.start" and e["job"] == "f-0")
        crash = next(e["vt"] for e in events if e["kind"] == "attempt.fault" and e["job"] == "f-0")
        self.assertEqual(crash - start, 300000)
        for d in re.findall(r"run directory (\S+)", err):
            self.assertEqual(processes_under(d), [])

    def test_simulated_mode_refuses_what_it_cannot_do(self):
        with open(os.path.join(SCENARIOS, "smoke-simulated.json")) as f:
            scn = json.load(f)
        scn["jobs"][0]["via"] = "s3"
        path = os.path.join(self.tmp, "s3.json")
        write(path, json.dumps(scn))
        rc, out, err = run("run", path)
        self.assertEqual(rc, 2, out + err)
        self.assertIn("S3 resource automation needs real workers", err)

    def test_blog_example(self):
        junit = os.path.join(self.tmp, "j.xml")
        rc, out, err = run("run", os.path.join(SCENARIOS, "blog-example.json"), "--junit", junit)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("Successful 1, Failed 1", out)
        self.assert_clean(err)

    def test_broken_expectation_exits_1(self):
        with open(os.path.join(SCENARIOS, "smoke.json")) as f:
            scn = json.load(f)
        scn["expect"] = {"jobs": {"smoke-1": {"status": "Failed"}}}
        path = os.path.join(self.tmp, "wrong.json")
        write(path, json.dumps(scn))
        rc, out, err = run("run", path)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("expectation broken: expected smoke-1 to end Failed, it ended Successful", out)
        self.assert_clean(err)

    def test_ctrl_c_stops_everything(self):
        with open(os.path.join(SCENARIOS, "smoke.json")) as f:
            scn = json.load(f)
        scn["jobs"][0]["count"] = 50
        scn["jobs"][0]["runtime"] = 200
        scn["expect"] = {}
        path = os.path.join(self.tmp, "long.json")
        write(path, json.dumps(scn))
        p = subprocess.Popen([SCENARIO, "run", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            err = ""
            deadline = time.time() + 60
            while time.time() < deadline and "run directory" not in err:
                err += p.stderr.readline()
            d = run_dir_of(err)
            self.assertIsNotNone(d, err)
            # Let workers start running jobs, then interrupt.
            deadline = time.time() + 60
            while time.time() < deadline and not glob.glob(os.path.join(d, "attempts", "*")):
                time.sleep(0.2)
            self.assertTrue(glob.glob(os.path.join(d, "attempts", "*")), "no job started within 60 s")
            p.send_signal(signal.SIGINT)
            out, rest = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 130, out + err + rest)
        self.assertIn("): INTERRUPTED\n", out)  # not PASSED: the run did not finish
        self.assertEqual(processes_under(d), [], "processes outlived the interrupted run")
        self.assertFalse(os.path.exists(d))

    def test_sweep(self):
        out_dir = os.path.join(self.tmp, "sweep")
        rc, out, err = run("sweep", os.path.join(SCENARIOS, "smoke.json"), "--seeds", "1-2",
                           "--set", "fleet.max_instances=1,2", "--out", out_dir, "--parallel", "2", timeout=600)
        self.assertEqual(rc, 0, out + err)
        with open(os.path.join(out_dir, "results.csv")) as f:
            rows = f.read().splitlines()
        self.assertEqual(len(rows), 5)
        self.assertTrue(rows[0].startswith("workflow,setting,x,seed,passed"))
        self.assertTrue(all(",1," in r for r in rows[1:]), rows)  # every run passed
        dom = render(self, os.path.join(out_dir, "sweep.html"))
        self.assertEqual(len(re.findall(r'class="chart"', dom)), 4)
        self.assertEqual(len(re.findall(r'<tr><td>', dom)), 4)


if __name__ == "__main__":
    unittest.main()
