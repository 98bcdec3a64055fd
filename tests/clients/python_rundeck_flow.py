"""Drives a Foredeck server with python-rundeck 2.0, as a Rundeck user's
script would: password and token logins, projects, job import, paging,
runs with options (JSON, pyrundeck's and form bodies), output, queries,
ad-hoc commands, scheduled runs and their abort, tokens, keys, ACLs and
metrics.

Usage: FD_URL=http://127.0.0.1:PORT FD_TOKEN=... FD_PASSWORD=... python3 this.py
Prints one line per step; exits 1 naming every step that failed.
"""

import os
import sys
import time
import traceback
from itertools import islice
from datetime import datetime, timedelta, timezone

import requests
from rundeck.client import Rundeck

URL = os.environ["FD_URL"]
TOKEN = os.environ["FD_TOKEN"]
PASSWORD = os.environ["FD_PASSWORD"]
PROJECT = "clients"
# Every step must finish well within this; the server is on loopback.
DEADLINE = 60.0

failed = []


def step(fn):
    """Runs `fn` as a named step and records its failure."""
    try:
        fn()
        print(f"ok    {fn.__name__}", flush=True)
    except Exception:  # noqa: BLE001 - a failed step is reported, not fatal
        failed.append(fn.__name__)
        print(f"FAIL  {fn.__name__}", flush=True)
        traceback.print_exc()
    return fn


rd = Rundeck(url=URL, token=TOKEN, api_version=59, timeout=30)
state = {}


def job(job_id):
    """The job as python-rundeck lists it (`jobs.get` reads `GET job/{id}`,
    which in Rundeck answers the job definition, a list, not the job)."""
    return next(j for j in rd.jobs.list(project=PROJECT) if j.id == job_id)


def wait_done(exec_id):
    """Polls an execution until it is no longer running; its record."""
    start = time.monotonic()
    while time.monotonic() - start < DEADLINE:
        e = rd.executions.get(exec_id)
        if e.status not in ("running", "scheduled"):
            return e
        time.sleep(0.1)
    raise AssertionError(f"execution {exec_id} still running after {DEADLINE}s")


def output_text(exec_id):
    out = rd.executions.get(exec_id).get_output()
    return "".join(entry.get("log", "") for entry in out.get("entries", []))


JOBS_YAML = """
- name: greet
  group: clients
  description: says what it is given
  options:
    - name: greeting
      value: hello
  sequence:
    commands:
      - exec: echo "greeting=${option.greeting}"
"""


@step
def password_login():
    session_client = Rundeck(url=URL, username="admin", password=PASSWORD, api_version=59)
    info = session_client.system.info()
    assert "system" in info, info


@step
def system_info():
    info = rd.system.info()
    assert info["system"]["rundeck"]["apiversion"] >= 14, info


@step
def create_project():
    p = rd.projects.create(PROJECT, config={"project.description": "python-rundeck"})
    assert p.name == PROJECT, p.to_dict()
    names = [x.name for x in rd.projects.list()]
    assert PROJECT in names, names
    assert rd.projects.get(PROJECT).name == PROJECT


@step
def import_jobs():
    res = rd.jobs.import_jobs(
        project=PROJECT,
        content=JOBS_YAML,
        fileformat="yaml",
        dupeOption="update",
        content_type="application/yaml",
    )
    assert len(res["succeeded"]) == 1, res
    state["job"] = res["succeeded"][0]["id"]
    # four more, for paging
    for i in range(4):
        more = JOBS_YAML.replace("name: greet", f"name: more-{i}")
        rd.jobs.import_jobs(
            project=PROJECT, content=more, fileformat="yaml", content_type="application/yaml"
        )


@step
def job_paging():
    every = [j.id for j in rd.jobs.list(project=PROJECT)]
    assert len(every) == 5, every
    # bounded: a server that ignores paging would make iter() endless
    paged = [j.id for j in islice(rd.jobs.iter(project=PROJECT, page_size=2), 50)]
    assert sorted(paged) == sorted(every), (paged, every)
    # without a page size python-rundeck stops at the first empty page
    unsized = [j.id for j in islice(rd.jobs.iter(project=PROJECT), 50)]
    assert sorted(unsized) == sorted(every), unsized


@step
def run_job_with_options():
    res = job(state["job"]).run(options={"greeting": "from-python"})
    assert "id" in res and "href" in res and "permalink" in res, res
    e = wait_done(res["id"])
    assert e.status == "succeeded", e.to_dict()
    assert "greeting=from-python" in output_text(res["id"])


@step
def run_with_pyrundeck_body():
    # pyrundeck sends logLevel: null and keys this server does not know
    r = requests.post(
        f"{URL}/api/59/job/{state['job']}/run",
        headers={"X-Rundeck-Auth-Token": TOKEN, "Accept": "application/json"},
        json={"logLevel": None, "options": {"greeting": "pyrundeck-opt"}, "someday": 1},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    exec_id = r.json()["id"]
    assert wait_done(exec_id).status == "succeeded"
    assert "greeting=pyrundeck-opt" in output_text(exec_id)


@step
def run_with_form_body():
    r = requests.post(
        f"{URL}/api/59/job/{state['job']}/run",
        headers={"X-Rundeck-Auth-Token": TOKEN, "Accept": "application/json"},
        data={"option.greeting": "form-opt-value", "loglevel": "DEBUG"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    exec_id = r.json()["id"]
    assert wait_done(exec_id).status == "succeeded"
    assert "greeting=form-opt-value" in output_text(exec_id)


@step
def scheduled_run_and_abort():
    at = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    res = job(state["job"]).run(runAtTime=at, options={"greeting": "later"})
    assert res.get("status") == "scheduled" and "id" in res, res
    listed = [e.id for e in rd.executions.list(project=PROJECT, statusFilter="scheduled")]
    assert res["id"] in listed, listed
    # Rundeck lists runs waiting for their time among the running ones
    # only when asked (includePostponed)
    postponed = rd.http_get(
        f"/project/{PROJECT}/executions/running", params={"includePostponed": "true"}
    )
    assert res["id"] in [e["id"] for e in postponed["executions"]], postponed
    rd.executions.get(res["id"]).abort()
    e = rd.executions.get(res["id"])
    assert e.status == "aborted", e.to_dict()


@step
def execution_queries():
    every = rd.executions.list(project=PROJECT)
    assert len(every) >= 3, [e.id for e in every]
    # python-rundeck's `status=` is not a Rundeck parameter; statusFilter is
    ok = rd.executions.list(project=PROJECT, statusFilter="succeeded")
    assert ok
    assert all(e.status == "succeeded" for e in ok)
    page = rd.executions.list(project=PROJECT, max=1, offset=1)
    assert len(page) == 1
    grouped = rd.executions.list(project=PROJECT, groupPath="clients")
    assert grouped and all(e.job["group"] == "clients" for e in grouped), [
        e.to_dict() for e in grouped
    ]


@step
def adhoc_command_without_filter():
    e = rd.projects.get(PROJECT).adhoc.run_command("echo adhoc-$((40+2))")
    done = wait_done(e.id)
    assert done.status == "succeeded", done.to_dict()
    assert "adhoc-42" in output_text(e.id)


@step
def tokens():
    t = rd.tokens.create(user="admin", roles=["admin"], duration="1h")
    tid = t.id
    assert tid in [x.id for x in rd.tokens.list(user="admin")]
    rd.tokens.delete(tid)


@step
def key_storage():
    rd.key_storage.create("clients/db.pass", "s3cret", "application/x-rundeck-data-password")
    k = rd.key_storage.get("clients/db.pass")
    assert "s3cret" not in repr(k.to_dict())
    rd.key_storage.delete("clients/db.pass")


@step
def system_acl():
    policy = (
        "description: clients\n"
        "context:\n  project: '.*'\n"
        "for:\n  job:\n    - allow: [read]\n"
        "by:\n  group: readers\n"
    )
    # python-rundeck's acl.create asks for YAML and then indexes the answer
    # as a dict; Rundeck's JSON form of the same request:
    rd.http_post("/system/acl/clients.aclpolicy", json={"contents": policy})
    assert "readers" in rd.system.acl.get("clients.aclpolicy").content
    assert "clients.aclpolicy" in str(rd.system.acl.list())
    rd.system.acl.delete("clients.aclpolicy")


@step
def metrics():
    assert rd.metrics.ping().strip().lower().startswith("pong")
    assert "status" in str(rd.metrics.healthcheck()).lower() or rd.metrics.healthcheck()


if failed:
    print(f"{len(failed)} step(s) failed: {', '.join(failed)}", file=sys.stderr)
    sys.exit(1)
print("all steps passed")
