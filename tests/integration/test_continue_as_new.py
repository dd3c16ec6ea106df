"""Issue 7: the history quota on a long-lived instance, and the hardened workflow's "continue as new".

Step Functions fails an execution at 25,000 history events; dss-scheduler does the same
(States.Runtime) and `--max-events` lowers the quota so that a test can reach it cheaply. Here
the quota is 300 and one instance gets five jobs (four `echo ok`, the last one sleeps 6 s first),
once per workflow, both at the same time on one real dss-emulator with real dss-worker processes:

- the seed workflow (fixtures/workflows/seed.asl.json, unchanged) runs every job in its one
  execution, at least 62 events a job (19 more to start), so its execution must fail with
  States.Runtime before the fifth job is done (a documented seed weakness);
- the hardened workflow (fixtures/workflows/hardened.asl.json) continues as new after each job
  (arn:aws:states:::states:startExecution): every job is Successful, every execution SUCCEEDED
  below the quota, and together they recorded more events than one execution may; the slow
  job's polls back off (1, 2, 4... s).

Run under Debian's python3 only (the scheduler uses no Python client; the second interpreter
would only double the CI time). Every scheduler is stopped and every file removed when the
test ends, also when it fails; the emulator belongs to the class (dsstest).
"""
import json
import os
import subprocess
import sys
import unittest
import urllib.request

import dsstest
from test_scheduler import SCHED, Scheduler, executions, make_stack, sched_env

QUOTA = 300
JOBS = 5
WORKFLOWS = os.path.join(dsstest.SOURCE, "fixtures", "workflows")


class ContinueAsNew(dsstest.EmulatorTestCase):

    @classmethod
    def setUpClass(cls):
        # Before the class's emulator starts.
        if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
            raise unittest.SkipTest("the scheduler uses no Python client library: tested under Debian's python3 only, "
                                    "to keep CI short")
        super().setUpClass()

    def setUp(self):
        services = json.loads(self.emulator.health()[1])["services"]
        missing = [s for s in ("ec2", "autoscaling", "ssm") if s not in services]
        if missing:
            self.skipTest("SKIPPED, not passed: the emulator does not serve %s yet" % ", ".join(missing))
        req = urllib.request.Request(self.endpoint + "/_dss/settings?boot_ms=300&status_ms=300", method="POST")
        urllib.request.urlopen(req, timeout=5).read()
        self.dir = dsstest.temp_dir(self)

    def stack_with_jobs(self, stack):
        """The stack's queues and table, JOBS jobs on its queue and one tagged instance."""
        make_stack(self, stack)
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=stack + "-job-queue")["QueueUrl"]
        for i in range(JOBS):
            command = "sleep 6; echo ok" if i == JOBS - 1 else "echo ok"
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({
                "job_id": "job-%d" % i, "retry": "0", "job_success_string": "ok",
                "ssm_document": "AWS-RunShellScript", "commands": [command]}))
        ec2 = self.client("ec2")
        r = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro",
                              TagSpecifications=[{"ResourceType": "instance",
                                                  "Tags": [{"Key": stack, "Value": stack + "-job-queue"}]}])
        iid = r["Instances"][0]["InstanceId"]
        self.addCleanup(lambda: ec2.terminate_instances(InstanceIds=[iid]))
        return iid

    def statuses(self, stack):
        items = self.client("dynamodb").scan(TableName=stack + "-job-monitoring")["Items"]
        return {it["job_id"]["S"]: it["Status"]["S"] for it in items}

    def history(self, journal, execution):
        p = subprocess.run([SCHED, "history", execution, "--journal", journal, "--json"], env=sched_env(self.endpoint),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]

    def test_seed_hits_quota_hardened_continues_as_new(self):
        seed_iid = self.stack_with_jobs("seedq")
        hard_iid = self.stack_with_jobs("hardq")
        seed_journal = os.path.join(self.dir, "seed.db")
        hard_journal = os.path.join(self.dir, "hardened.db")
        seed = Scheduler(self, self.endpoint, "seedq", seed_journal, os.path.join(WORKFLOWS, "seed.asl.json"),
                         "--max-events", str(QUOTA))
        hard = Scheduler(self, self.endpoint, "hardq", hard_journal, os.path.join(WORKFLOWS, "hardened.asl.json"),
                         "--max-events", str(QUOTA))

        # The seed: one execution, failed by the quota with jobs left over.
        self.assertTrue(dsstest.wait_until(
            lambda: any(x["status"] == "FAILED" for x in executions(self.endpoint, seed_journal)),
            timeout=240, interval=1.0), seed.text()[-3000:])
        xs = executions(self.endpoint, seed_journal)
        self.assertEqual(len(xs), 1)
        self.assertEqual(xs[0]["name"], seed_iid)
        self.assertEqual(xs[0]["error"], "States.Runtime")
        self.assertIn("history", xs[0]["cause"])
        self.assertGreaterEqual(xs[0]["events"], QUOTA)
        self.assertLess(list(self.statuses("seedq").values()).count("Successful"), JOBS)

        # The hardened workflow: every job done, the instance terminated, every execution ended.
        def hardened_done():
            xs = executions(self.endpoint, hard_journal)
            return xs and all(x["status"] != "RUNNING" for x in xs) and len(self.statuses("hardq")) == JOBS
        self.assertTrue(dsstest.wait_until(hardened_done, timeout=300, interval=1.0), hard.text()[-3000:])
        self.assertEqual(self.statuses("hardq"), {"job-%d" % i: "Successful" for i in range(JOBS)})
        xs = executions(self.endpoint, hard_journal)
        for x in xs:
            self.assertEqual(x["status"], "SUCCEEDED", x)
            self.assertLess(x["events"], QUOTA, x)
        self.assertGreater(sum(x["events"] for x in xs), QUOTA)
        self.assertGreaterEqual(len(xs), JOBS)
        # One chain of names; the instance belongs to its newest execution.
        self.assertEqual([x["name"] for x in xs], [hard_iid] + ["%s.%d" % (hard_iid, i) for i in range(2, len(xs) + 1)])
        self.assertEqual([x["instance_id"] for x in xs], [""] * (len(xs) - 1) + [hard_iid])

        # The first execution's history: startExecution with Step Functions' event types, and
        # the new execution's input names the one that started it.
        first = self.history(hard_journal, hard_iid)
        start = [i for i, ev in enumerate(first) if ev["type"] == "TaskStateEntered" and ev["state"] == "ContinueAsNew"]
        self.assertEqual(len(start), 1)
        self.assertEqual([ev["type"] for ev in first[start[0]:start[0] + 5]],
                         ["TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited"])
        self.assertEqual(first[start[0] + 1]["data"], {"resourceType": "states", "resource": "startExecution"})
        arn = first[start[0] + 3]["data"]["ExecutionArn"]
        self.assertEqual(arn, "arn:aws:states:us-east-1:000000000000:execution:hardq-scheduler:%s.2" % hard_iid)
        second = self.history(hard_journal, "%s.2" % hard_iid)
        self.assertEqual(second[0]["type"], "ExecutionStarted")
        started_by = second[0]["data"]["input"]["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"]
        self.assertEqual(started_by, "arn:aws:states:us-east-1:000000000000:execution:hardq-scheduler:" + hard_iid)
        self.assertEqual((second[1]["type"], second[1]["state"]), ("PassStateEntered", "Settings"))
        self.assertNotIn("WaitEC2", [ev["state"] for ev in second])  # straight to the next job

        # The slow job's execution: its polls wait the poll interval (1 s), then 2, 4... s.
        waits = []
        for x in xs:
            h = self.history(hard_journal, x["name"])
            delays = [ev["data"]["poll_delay"] for ev in h if ev["type"] == "WaitStateEntered" and ev["state"] == "Wait"]
            waits = max(waits, delays, key=len)
        self.assertGreaterEqual(len(waits), 3, waits)
        self.assertEqual(waits, [1, 2, 4, 8, 16, 30, 30, 30, 30][:len(waits)])
        self.assertEqual(seed.stop(), 0)
        self.assertEqual(hard.stop(), 0)


if __name__ == "__main__":
    unittest.main()
