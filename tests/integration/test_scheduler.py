"""dss-scheduler end to end against a real dss-emulator with real worker processes.

SchedulerE2E needs the emulator's EC2, Auto Scaling and SSM (it skips, saying so, when
/_dss/health does not list them): the blog's example (two `echo Hello World` jobs, retry 3,
success strings `Hello` and `Hello EVERYONE`), a SIGKILL of the scheduler mid-run followed by a
restart, a malformed job, and the 25,000-event history quota (lowered with --max-events).

SchedulerCli needs only SQS and DynamoDB: clear errors (missing queue/table, unreachable endpoint,
invalid workflow, malformed job file), profiles from ~/.aws/config, submit and status.
SchedulerAuth runs against `dss-emulator --auth verify`: rejected credentials are named with the
endpoint and the setting they came from.

The workflow the E2E tests run is an edited copy of fixtures/workflows/seed.asl.json with 1 s
retry intervals and a single retry (the seed's 2 s x3 backoff would add 14 s at the end of every
run); everything else is the seed state for state. Every scheduler process is killed and every
file removed when a test ends, also when it fails.
"""
import json
import os
import pty
import re
import signal
import subprocess
import threading
import time
import unittest

import dsstest

SCHED = os.path.join(dsstest.BIN, "dss-scheduler")
SEED = os.path.join(dsstest.SOURCE, "fixtures", "workflows", "seed.asl.json")


def sched_env(endpoint, **extra):
    env = dict(os.environ, **dsstest.CREDENTIALS)
    env.pop("AWS_PROFILE", None)
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["AWS_ENDPOINT_URL"] = endpoint
    env.update(extra)
    return env


def make_stack(test, stack):
    sqs = test.client("sqs")
    for suffix in ("-job-queue", "-job-queue-finished", "-job-queue-failed"):
        sqs.create_queue(QueueName=stack + suffix)
    test.client("dynamodb").create_table(
        TableName=stack + "-job-monitoring", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}])


def fast_workflow(test, directory):
    """The seed with 1 s retries, written to directory; returns its path."""
    with open(SEED) as f:
        wf = json.load(f)
    for st in wf["States"].values():
        for r in st.get("Retry", []):
            r["IntervalSeconds"] = 1
            r["MaxAttempts"] = 1
    path = os.path.join(directory, "seed-fast.asl.json")
    with open(path, "w") as f:
        json.dump(wf, f)
    return path


class Scheduler:
    """A running `dss-scheduler run`; stopped (SIGKILL if need be) by the test's cleanup.
    tty=True: its stdout is a pseudo-terminal, read into self.screen until it exits."""

    def __init__(self, test, endpoint, stack, journal, workflow, *extra, tty=False):
        self.log_path = journal + ".%d.log" % time.monotonic_ns()
        self.log = open(self.log_path, "w")
        args = [SCHED, "run", "--stack", stack, "--journal", journal, "--poll-interval", "1",
                "--waiter-delay", "0.5", "--workflow", workflow] + list(extra)
        self.screen, self.reader, self.master = bytearray(), None, None
        stdout = subprocess.DEVNULL
        if tty:
            self.master, stdout = pty.openpty()
        self.proc = subprocess.Popen(args, env=sched_env(endpoint), stdout=stdout, stderr=self.log)
        if tty:
            os.close(stdout)
            self.reader = threading.Thread(target=self._read_screen, daemon=True)
            self.reader.start()
        test.addCleanup(self.stop)

    def _read_screen(self):
        # Drained all along (a full pseudo-terminal would block the scheduler); ends with EIO
        # once the scheduler has exited and closed its side.
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.screen += chunk

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.reader:
            self.reader.join(timeout=15)
            self.reader = None
        if self.master is not None:
            os.close(self.master)
            self.master = None
        self.log.close()
        return self.proc.returncode

    def text(self):
        with open(self.log_path) as f:
            return f.read()


def executions(endpoint, journal):
    p = subprocess.run([SCHED, "executions", "--journal", journal, "--json"], env=sched_env(endpoint),
                       capture_output=True, text=True, timeout=30)
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


class SchedulerE2E(dsstest.EmulatorTestCase):

    def setUp(self):
        status, body = self.emulator.health()
        services = json.loads(body)["services"]
        missing = [s for s in ("ec2", "autoscaling", "ssm") if s not in services]
        if missing:
            self.skipTest("SKIPPED, not passed: the emulator does not serve %s yet" % ", ".join(missing))
        # Instances boot and pass status checks in well under a second.
        import urllib.request
        req = urllib.request.Request(self.endpoint + "/_dss/settings?boot_ms=300&status_ms=300", method="POST")
        urllib.request.urlopen(req, timeout=5).read()
        self.dir = dsstest.temp_dir(self)
        self.workflow = fast_workflow(self, self.dir)

    def launch(self, stack, queue=None):
        ec2 = self.client("ec2")
        r = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro",
                              TagSpecifications=[{"ResourceType": "instance",
                                                  "Tags": [{"Key": stack, "Value": queue or stack + "-job-queue"}]}])
        iid = r["Instances"][0]["InstanceId"]
        self.addCleanup(lambda: ec2.terminate_instances(InstanceIds=[iid]))
        return iid

    def submit(self, stack, *args):
        p = subprocess.run([SCHED, "submit", "--stack", stack] + list(args), env=sched_env(self.endpoint),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def item(self, stack, job_id):
        if not hasattr(self, "_ddb"):
            self._ddb = self.client("dynamodb")
        r = self._ddb.get_item(TableName=stack + "-job-monitoring", Key={"job_id": {"S": job_id}})
        return {k: v["S"] for k, v in r.get("Item", {}).items()}

    def wait_done(self, journal, sched, timeout=120):
        # A scheduler that has exited will finish nothing: no need to wait out the timeout.
        ok = dsstest.wait_until(lambda: any(x["status"] != "RUNNING" for x in executions(self.endpoint, journal)) or
                                sched.proc.poll() is not None, timeout=timeout, interval=0.5)
        xs = executions(self.endpoint, journal)
        ok = ok and any(x["status"] != "RUNNING" for x in xs)
        if not ok:  # say where it stood: the scheduler's log, the queues, the commands
            sqs = self.client("sqs")
            queues = {url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
                      for url in sqs.list_queues().get("QueueUrls", [])}
            commands = self.client("ssm").list_command_invocations(Details=False)["CommandInvocations"]
            self.fail("no execution finished in %d s (scheduler exit status: %s): %s\nqueues: %s\ncommands: %s\n"
                      "scheduler log:\n%s" % (timeout, sched.proc.poll(), xs, queues,
                                               [(c["CommandId"], c["Status"]) for c in commands], sched.text()[-6000:]))
        return xs

    def receive_all(self, queue):
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        out = []
        while True:
            r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                    MessageAttributeNames=["All"])
            if not r.get("Messages"):
                return out
            for m in r["Messages"]:
                out.append(m)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    def test_blog_example(self):
        stack = "blog"
        make_stack(self, stack)
        self.submit(stack, "--command", "echo Hello World", "--success-string", "Hello", "--retry", "3",
                    "--id", "jobId_0")
        self.submit(stack, "--command", "echo Hello World", "--success-string", "Hello EVERYONE", "--retry", "3",
                    "--id", "jobId_1")
        iid = self.launch(stack)
        journal = os.path.join(self.dir, "blog.db")
        s = Scheduler(self, self.endpoint, stack, journal, self.workflow, tty=True)
        xs = self.wait_done(journal, s)
        self.assertEqual(xs[0]["status"], "SUCCEEDED", s.text()[-3000:])
        self.assertEqual(xs[0]["instance_id"], iid)

        ok, bad = self.item(stack, "jobId_0"), self.item(stack, "jobId_1")
        self.assertEqual((ok["Status"], ok["Retries"]), ("Successful", "0 of 3"))
        self.assertEqual(ok["Output_Logs"], "Hello World\n")
        self.assertEqual(ok["Commands"], "['echo Hello World']")
        self.assertEqual(ok["instance_id"], iid)
        self.assertEqual((bad["Status"], bad["Retries"]), ("Failed", "3 of 3"))
        finished = self.receive_all(stack + "-job-queue-finished")
        self.assertEqual([json.loads(m["Body"])["job_id"] for m in finished], ["jobId_0"])
        failed = self.receive_all(stack + "-job-queue-failed")
        self.assertEqual(len(failed), 1)
        self.assertEqual(json.loads(failed[0]["Body"])["job_id"], "jobId_1")
        self.assertEqual(self.receive_all(stack + "-job-queue"), [])
        state = self.client("ec2").describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]
        self.assertIn(state["Name"], ("shutting-down", "terminated"))

        # One log line per state transition; the CLI shows the table and the history.
        self.assertIn("StateEntered GetJob", s.text())
        st = subprocess.run([SCHED, "status", "--stack", stack], env=sched_env(self.endpoint), capture_output=True,
                            text=True, timeout=30)
        self.assertEqual(st.returncode, 0, st.stderr)
        self.assertRegex(st.stdout, r"jobId_0\s+Successful\s+0 of 3")
        self.assertRegex(st.stdout, r"jobId_1\s+Failed\s+3 of 3")
        h = subprocess.run([SCHED, "history", iid, "--journal", journal], env=sched_env(self.endpoint),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(h.returncode, 0, h.stderr)
        self.assertIn("ExecutionSucceeded", h.stdout)
        self.assertIn("TaskStateEntered", h.stdout)
        # The execution's input is SEED-DESIGN.md's document (its ExecutionStarted event).
        h = subprocess.run([SCHED, "history", iid, "--journal", journal, "--json"], env=sched_env(self.endpoint),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(h.returncode, 0, h.stderr)
        events = [json.loads(line) for line in h.stdout.splitlines()]
        self.assertEqual((events[0]["type"], events[-1]["type"]), ("ExecutionStarted", "ExecutionSucceeded"))
        self.assertEqual(events[0]["data"]["input"], {"input": {
            "sqs_name": "blog-job-queue", "sqs_name_out": "blog-job-queue-finished",
            "sqs_name_failed": "blog-job-queue-failed", "region": "us-east-1",
            "state_machine_arn": "arn:aws:states:us-east-1:000000000000:stateMachine:blog-scheduler",
            "state_machine_name": "blog-scheduler", "Timeout_Job": 1, "instance_id": iid,
            "autoscaling_group": "nothing", "table": "blog-job-monitoring"}})
        self.assertEqual([e["id"] for e in events], list(range(1, len(events) + 1)))
        # status --job: one job's row; executions --status filters.
        st = subprocess.run([SCHED, "status", "--stack", stack, "--job", "jobId_1"], env=sched_env(self.endpoint),
                            capture_output=True, text=True, timeout=30)
        self.assertEqual(st.returncode, 0, st.stderr)
        self.assertRegex(st.stdout, r"jobId_1\s+Failed\s+3 of 3\s+" + iid)
        self.assertNotIn("jobId_0", st.stdout)
        self.assertIn("1 job\n", st.stdout)
        for status, n in (("SUCCEEDED", 1), ("FAILED", 0), ("RUNNING", 0)):
            p = subprocess.run([SCHED, "executions", "--journal", journal, "--json", "--status", status],
                               env=sched_env(self.endpoint), capture_output=True, text=True, timeout=30)
            self.assertEqual((p.returncode, len(p.stdout.splitlines())), (0, n), status + p.stderr)
        self.assertEqual(s.stop(), 0)
        # On a terminal, a live summary line (rewritten in place) while the execution ran, with the
        # state it was in, and the final counts: 2 jobs, the second run 4 times (3 retries) -> 5
        # starts, 1 success, 4 failures.
        screen = s.screen.decode(errors="replace")
        self.assertRegex(screen, r"\r\x1b\[Kinstances 1 \| executions running 1 succeeded 0 failed 0 \| jobs started "
                                 r"\d+ succeeded \d+ failed \d+ \| transitions \d+ \| in [A-Za-z]+ 1(\r|$)",
                         screen[-2000:])
        self.assertRegex(screen, r"instances \d+ \| executions running 0 succeeded 1 failed 0 \| "
                                 r"jobs started 5 succeeded 1 failed 4 \| transitions \d+\r?\n", screen[-2000:])
        # A second instance in the same stack is a new execution; the first is not restarted.
        self.assertEqual(len(executions(self.endpoint, journal)), 1)

    def test_resume_after_sigkill(self):
        stack = "resume"
        make_stack(self, stack)
        for i in range(4):
            self.submit(stack, "--command", "sleep 1; echo done %d" % i, "--success-string", "done", "--retry", "1",
                        "--id", "job%d" % i)
        self.launch(stack)
        journal = os.path.join(self.dir, "resume.db")
        s = Scheduler(self, self.endpoint, stack, journal, self.workflow)
        self.assertTrue(dsstest.wait_until(lambda: self.item(stack, "job1").get("Status") == "Started", timeout=90,
                                           interval=0.2), s.text()[-3000:])
        s.stop(signal.SIGKILL)
        self.assertEqual(executions(self.endpoint, journal)[0]["status"], "RUNNING")
        s2 = Scheduler(self, self.endpoint, stack, journal, self.workflow)
        self.assertTrue(dsstest.wait_until(lambda: "resumed 1 execution" in s2.text(), timeout=30), s2.text())
        # A clean stop mid-run (requests in flight) exits 0 -- under ASan: without leaks -- and
        # the next start resumes again.
        time.sleep(0.5)
        self.assertEqual(s2.stop(), 0, s2.text()[-3000:])
        s3 = Scheduler(self, self.endpoint, stack, journal, self.workflow)
        xs = self.wait_done(journal, s3)
        self.assertEqual(xs[0]["status"], "SUCCEEDED", s3.text()[-3000:])
        self.assertIn("resumed 1 execution", s3.text())
        for i in range(4):
            self.assertEqual(self.item(stack, "job%d" % i).get("Status"), "Successful", "job%d" % i)

    def test_malformed_job_goes_to_failed_queue(self):
        stack = "bad"
        make_stack(self, stack)
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=stack + "-job-queue")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="this is { not json")
        self.submit(stack, "--command", "echo ok", "--success-string", "ok", "--retry", "0", "--id", "good")
        self.launch(stack)
        journal = os.path.join(self.dir, "bad.db")
        s = Scheduler(self, self.endpoint, stack, journal, self.workflow, "--log-format", "json")
        xs = self.wait_done(journal, s)
        self.assertEqual(xs[0]["status"], "SUCCEEDED", s.text()[-3000:])
        failed = self.receive_all(stack + "-job-queue-failed")
        self.assertEqual([m["Body"] for m in failed], ["this is { not json"])
        reason = failed[0]["MessageAttributes"]["dss_failure_reason"]["StringValue"]
        self.assertIn("not a JSON object", reason)
        self.assertEqual(self.item(stack, "good")["Status"], "Successful")
        # --log-format json: one JSON object per line, one per state entered.
        lines = [json.loads(line) for line in s.text().splitlines() if line.startswith("{")]
        entered = [x["state"] for x in lines if x["event"] == "StateEntered"]
        self.assertIn("FailedJob", entered)
        self.assertTrue(any(x["event"] == "TaskFailed" and x.get("detail") == "MalformedJob" for x in lines))

    def test_payload_quota_fails_execution(self):
        # A job whose output (24,000 characters once SSM truncates it) makes CheckJob's result larger
        # than --max-payload: States.DataLimitExceeded, which States.ALL neither retries nor catches
        # on AWS, fails the execution (were it caught by the seed's States.ALL catcher, the execution
        # would go on with the error object in $.jobstatus).
        stack = "payload"
        make_stack(self, stack)
        self.submit(stack, "--command", "head -c 30000 /dev/zero | tr '\\0' x", "--success-string", "",
                    "--retry", "0", "--id", "big")
        self.launch(stack)
        journal = os.path.join(self.dir, "payload.db")
        s = Scheduler(self, self.endpoint, stack, journal, self.workflow, "--max-payload", "20000")
        xs = self.wait_done(journal, s, timeout=90)
        self.assertEqual(xs[0]["status"], "FAILED", s.text()[-3000:])
        self.assertEqual(xs[0]["error"], "States.DataLimitExceeded", xs[0])
        self.assertEqual(self.item(stack, "big")["Status"], "Started")

    def test_history_quota_fails_execution(self):
        stack = "quota"
        make_stack(self, stack)
        self.submit(stack, "--command", "sleep 30", "--success-string", "", "--retry", "0", "--id", "long")
        self.launch(stack)
        journal = os.path.join(self.dir, "quota.db")
        s = Scheduler(self, self.endpoint, stack, journal, self.workflow, "--max-events", "120")
        xs = self.wait_done(journal, s, timeout=90)
        self.assertEqual(xs[0]["status"], "FAILED", s.text()[-3000:])
        self.assertEqual(xs[0]["error"], "States.Runtime")
        self.assertIn("history", xs[0]["cause"])

    def history(self, journal, execution):
        h = subprocess.run([SCHED, "history", execution, "--journal", journal, "--json"], env=sched_env(self.endpoint),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(h.returncode, 0, h.stderr)
        return [json.loads(line) for line in h.stdout.splitlines()]

    def test_history_levels(self):
        """--history failures keeps only failure events (with their data) and logs only
        executions' starts and ends and failures; --history none keeps no events. Both keep the
        execution's start (a restart reads its input from it) and its result."""
        stack = "hfail"
        make_stack(self, stack)
        self.submit(stack, "--command", "head -c 30000 /dev/zero | tr '\\0' x", "--success-string", "",
                    "--retry", "0", "--id", "big")
        iid = self.launch(stack)
        journal = os.path.join(self.dir, "hfail.db")
        s = Scheduler(self, self.endpoint, stack, journal, self.workflow, "--max-payload", "20000",
                      "--history", "failures")
        xs = self.wait_done(journal, s, timeout=90)
        self.assertEqual((xs[0]["status"], xs[0]["error"]), ("FAILED", "States.DataLimitExceeded"), s.text()[-3000:])
        events = self.history(journal, iid)
        # Between them only failures: a GetCommandInvocation sent before the worker had taken the
        # command fails with InvocationDoesNotExist and is retried (TaskFailed), on a slow machine.
        types = [e["type"] for e in events]
        self.assertEqual((types[0], types[-1]), ("ExecutionStarted", "ExecutionFailed"), types)
        self.assertEqual(set(types[1:-1]) - {"TaskFailed"}, set(), types)
        self.assertEqual(events[-1]["data"]["error"], "States.DataLimitExceeded")
        self.assertGreater(events[-1]["id"], 10)  # numbered as if every event had been kept
        s.stop()
        self.assertIn("ExecutionStarted", s.text())
        self.assertIn("ExecutionFailed", s.text())
        self.assertNotIn("StateEntered", s.text())

        stack = "hnone"
        make_stack(self, stack)
        self.submit(stack, "--command", "echo fine", "--success-string", "fine", "--retry", "0", "--id", "ok")
        iid = self.launch(stack)
        journal = os.path.join(self.dir, "hnone.db")
        s = Scheduler(self, self.endpoint, stack, journal, self.workflow, "--history", "none")
        xs = self.wait_done(journal, s, timeout=90)
        self.assertEqual(xs[0]["status"], "SUCCEEDED", s.text()[-3000:])
        self.assertEqual(self.item(stack, "ok")["Status"], "Successful")
        self.assertEqual([e["type"] for e in self.history(journal, iid)], ["ExecutionStarted"])
        s.stop()
        self.assertIn("ExecutionSucceeded", s.text())
        self.assertNotIn("StateEntered", s.text())


class SchedulerCli(dsstest.EmulatorTestCase):

    def run_sched(self, *args, env=None):
        return subprocess.run([SCHED] + list(args), env=env or sched_env(self.endpoint), capture_output=True,
                              text=True, timeout=120)

    def test_missing_queue_is_named(self):
        p = self.run_sched("run", "--stack", "nosuch", "--journal", os.path.join(dsstest.temp_dir(self), "j.db"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("nosuch-job-queue", p.stderr)
        self.assertIn(self.endpoint, p.stderr)
        self.assertIn("AWS_ENDPOINT_URL", p.stderr)

    def test_missing_table_is_named(self):
        sqs = self.client("sqs")
        for suffix in ("-job-queue", "-job-queue-finished", "-job-queue-failed"):
            sqs.create_queue(QueueName="notable" + suffix)
        p = self.run_sched("run", "--stack", "notable", "--journal", os.path.join(dsstest.temp_dir(self), "j.db"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("notable-job-monitoring", p.stderr)

    def test_bad_history_level_is_named(self):
        p = self.run_sched("run", "--stack", "x", "--history", "some")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--history is full, failures or none, not 'some'", p.stderr)

    def test_unreachable_endpoint_names_url_and_setting(self):
        env = sched_env("http://127.0.0.1:9")
        p = self.run_sched("submit", "--stack", "x", "--command", "echo", "--success-string", "x", "--retry", "1",
                           env=env)
        self.assertEqual(p.returncode, 1)
        self.assertIn("http://127.0.0.1:9", p.stderr)
        self.assertIn("AWS_ENDPOINT_URL", p.stderr)

    def test_profile_endpoint_and_region(self):
        d = dsstest.temp_dir(self)
        cfg = os.path.join(d, "config")
        with open(cfg, "w") as f:
            f.write("[profile emu]\nregion = eu-west-1\nservices = local\n"
                    "[services local]\nsqs =\n  endpoint_url = %s\n" % self.endpoint)
        creds = os.path.join(d, "credentials")
        with open(creds, "w") as f:
            f.write("[emu]\naws_access_key_id = AKIDEMU\naws_secret_access_key = secret\n")
        env = dict(os.environ)
        for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
                  "AWS_REGION"):
            env.pop(k, None)
        env.update(AWS_PROFILE="emu", AWS_CONFIG_FILE=cfg, AWS_SHARED_CREDENTIALS_FILE=creds)
        self.client("sqs").create_queue(QueueName="prof-job-queue")
        p = self.run_sched("submit", "--stack", "prof", "--command", "echo hi", "--success-string", "hi",
                           "--retry", "2", "--id", "p1", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        # A service without an override goes to the real regional endpoint of the profile's region.
        p = self.run_sched("status", "--stack", "prof", env=dict(env, AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:9"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("AWS_ENDPOINT_URL_DYNAMODB", p.stderr)

    def test_submit_and_status(self):
        make_stack(self, "cli")
        d = dsstest.temp_dir(self)
        jobs = os.path.join(d, "jobs.json")
        with open(jobs, "w") as f:
            json.dump([{"job_id": "f1", "retry": 2, "job_success_string": "x", "ssm_document": "AWS-RunShellScript",
                        "commands": ["echo x"]}], f)
        p = self.run_sched("submit", "--stack", "cli", "--job", jobs)
        self.assertEqual(p.returncode, 0, p.stderr)
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName="cli-job-queue")["QueueUrl"]
        body = json.loads(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"][0]["Body"])
        self.assertEqual(body["job_id"], "f1")
        self.assertEqual(body["commands"], ["echo x"])
        bad = os.path.join(d, "bad.json")
        with open(bad, "w") as f:
            f.write("{\"job_id\": ")
        p = self.run_sched("submit", "--stack", "cli", "--job", bad)
        self.assertEqual(p.returncode, 1)
        self.assertIn("bad.json", p.stderr)
        self.client("dynamodb").put_item(TableName="cli-job-monitoring", Item={
            "job_id": {"S": "z9"}, "Status": {"S": "Successful"}, "Retries": {"S": "1 of 2"},
            "instance_id": {"S": "i-1"}, "SSM_Document": {"S": "AWS-RunShellScript"},
            "Commands": {"S": "['echo']"}, "Output_Logs": {"S": "line1\nline2"}})
        p = self.run_sched("status", "--stack", "cli")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"z9\s+Successful\s+1 of 2\s+i-1")
        p = self.run_sched("status", "--stack", "cli", "--job", "nope")
        self.assertEqual(p.returncode, 1)

    def test_lookers_never_stop_a_run(self):
        """`executions` and `history` only read the journal: polled while `run` creates it (as the
        E2E tests poll), they never make `run` fail with "database is locked" (a CI failure, when
        they opened it as writers), and they answer "no executions" before it exists."""
        make_stack(self, "look")
        d = dsstest.temp_dir(self)
        missing = self.run_sched("executions", "--journal", os.path.join(d, "none.db"), "--json")
        self.assertEqual((missing.returncode, missing.stdout), (1, ""))
        self.assertIn("no journal at", missing.stderr)
        self.assertFalse(os.path.exists(os.path.join(d, "none.db")))
        for i in range(15):
            journal = os.path.join(d, "look%d.db" % i)
            stop, said = threading.Event(), []

            def look():
                while not stop.is_set():
                    for cmd in (["executions", "--json"], ["history", "i-none"]):
                        said.append(self.run_sched(*cmd, "--journal", journal).stderr)
            lookers = [threading.Thread(target=look) for _ in range(3)]
            for t in lookers:
                t.start()
            try:
                s = Scheduler(self, self.endpoint, "look", journal, SEED)
                started = dsstest.wait_until(lambda: "automation:" in s.text() or s.proc.poll() is not None, 15)
                self.assertTrue(started and s.proc.poll() is None, s.text())
                self.assertEqual(s.stop(), 0, s.text())
            finally:
                stop.set()
                for t in lookers:
                    t.join()
            self.assertNotIn("locked", s.text())
            self.assertEqual([e for e in said if "locked" in e], [])

    def test_invalid_workflow_names_state_and_field(self):
        d = dsstest.temp_dir(self)
        with open(SEED) as f:
            wf = json.load(f)
        wf["States"]["GetJob"]["Retry"][0]["BackoffRate"] = 0.5
        path = os.path.join(d, "wf.json")
        with open(path, "w") as f:
            json.dump(wf, f)
        p = self.run_sched("check", "--workflow", path)
        self.assertEqual(p.returncode, 1)
        self.assertIn('State "GetJob"', p.stderr)
        self.assertIn("Retry[0].BackoffRate", p.stderr)
        # An edited copy (an extra state) loads without recompiling.
        wf["States"]["GetJob"]["Retry"][0]["BackoffRate"] = 1.5
        wf["States"]["Extra"] = {"Type": "Pass", "Next": "GetJob"}
        wf["States"]["PassCleanEntry"]["Next"] = "Extra"
        with open(path, "w") as f:
            json.dump(wf, f)
        p = self.run_sched("check", "--workflow", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("32 states", p.stdout)


class SchedulerAuth(dsstest.EmulatorTestCase):
    """Against `dss-emulator --auth verify` (its one key pair: test/test)."""

    emulator_args = ("--auth", "verify")

    def run_sched(self, *args, env):
        return subprocess.run([SCHED] + list(args), env=env, capture_output=True, text=True, timeout=120)

    def test_bad_credentials_are_named(self):
        make_stack(self, "auth")
        # The right key pair works (so what fails below is the credentials, nothing else).
        p = self.run_sched("status", "--stack", "auth", env=sched_env(self.endpoint))
        self.assertEqual(p.returncode, 0, p.stderr)
        # A wrong secret, from the environment: SQS's own error, the endpoint, where the keys came from.
        p = self.run_sched("submit", "--stack", "auth", "--command", "echo", "--success-string", "x", "--retry", "1",
                           env=sched_env(self.endpoint, AWS_SECRET_ACCESS_KEY="wrong"))
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("credentials rejected by " + self.endpoint, p.stderr)
        self.assertIn("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", p.stderr)
        self.assertIn("SignatureDoesNotMatch", p.stderr)
        # An unknown key from a profile: DynamoDB's error (status) and `run`'s preflight (SQS).
        d = dsstest.temp_dir(self)
        creds = os.path.join(d, "credentials")
        with open(creds, "w") as f:
            f.write("[stale]\naws_access_key_id = AKIDSTALE\naws_secret_access_key = old\n")
        env = sched_env(self.endpoint, AWS_PROFILE="stale", AWS_SHARED_CREDENTIALS_FILE=creds)
        env.pop("AWS_ACCESS_KEY_ID")
        env.pop("AWS_SECRET_ACCESS_KEY")
        p = self.run_sched("status", "--stack", "auth", env=env)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("credentials rejected", p.stderr)
        self.assertIn("profile stale in the credentials file", p.stderr)
        self.assertIn("UnrecognizedClientException", p.stderr)
        p = self.run_sched("run", "--stack", "auth", "--journal", os.path.join(d, "j.db"), env=env)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("credentials rejected", p.stderr)
        self.assertIn("InvalidClientTokenId", p.stderr)
        self.assertNotIn("Traceback", p.stderr)


if __name__ == "__main__":
    unittest.main()
