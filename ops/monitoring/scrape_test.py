#!/usr/bin/env python3
"""The metrics scrape test (ADR 16), run by ops/monitoring/check: a real acme-worker with its
metrics endpoint and callback ingress, a real Prometheus scraping it with our alert rules loaded,
and assertions on what Prometheus's HTTP API answers:

- three unsigned callbacks sent to the ingress are counted once each:
  acme_callbacks_refused_total{reason="unauthenticated"} is exactly 3;
- the Temporal SDK's own metrics come through the same endpoint: the external bulkhead's
  temporal_worker_task_slots_available equals the slots the worker was given;
- the trade book gauges are there for every kind and status (12 series), and the
  reconciliation gauges for every break class (6 series);
- every expression of the dashboards and every alert rule evaluates without error, and
  Prometheus loaded every rule group;
- the worker runs with ACME_LOG_FORMAT=json: every line of its log is a JSON object, and the
  three refusals are there with their code as a field.

Needs: the dev stack (source .acme/env), the acme-worker binary (path as argv[1]), and
`prometheus` on PATH (ops/stack up installs it). Uses stdlib only; stops what it started.
"""

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

MONITORING = Path(__file__).resolve().parent
DEADLINE_S = 90
EXTERNAL_SLOTS = 3
REFUSED_CALLBACKS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def wait_for(what: str, check, procs):
    """Calls check() until it returns a value other than None, or fails after the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    last_error = None
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                fail(f"{name} exited ({proc.returncode}) while waiting for {what}")
        try:
            value = check()
            if value is not None:
                return value
        except (OSError, urllib.error.URLError, ValueError, KeyError) as e:
            last_error = e
        time.sleep(0.5)
    fail(f"no {what} within {DEADLINE_S} s (last error: {last_error})")


LOGS = {}


def fail(message: str):
    for name, path in LOGS.items():
        print(f"--- last lines of {name}'s log ({path}) ---", file=sys.stderr)
        try:
            print("\n".join(Path(path).read_text().splitlines()[-30:]), file=sys.stderr)
        except OSError:
            pass
    print(f"scrape test: FAILED: {message}", file=sys.stderr)
    raise SystemExit(1)


def query(prometheus: str, expr: str):
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        body = json.loads(get(url))
    except urllib.error.HTTPError as e:
        body = json.loads(e.read())
    if body.get("status") != "success":
        raise ValueError(f"{expr!r}: {body.get('error')}")
    return body["data"]["result"]


def expressions():
    """Every PromQL expression in the dashboards and the rules, with where it comes from."""
    found = []
    for path in sorted((MONITORING / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"].replace("$__rate_interval", "1m")
                found.append((f"{path.name}: {panel['title']}", expr))
    for path in sorted((MONITORING / "rules").glob("*.rules.yml")):
        # The rules file is YAML; its expressions are either `expr: <one line>` or a block.
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"^(\s*)expr: ?(.*)$", line)
            if not m:
                continue
            if m.group(2).strip() == "|":
                indent, block = None, []
                for following in lines[i + 1 :]:
                    if not following.strip():
                        break
                    this_indent = len(following) - len(following.lstrip())
                    indent = this_indent if indent is None else indent
                    if this_indent < indent:
                        break
                    block.append(following.strip())
                expr = " ".join(block)
            else:
                expr = m.group(2)
            found.append((f"{path.name} line {i + 1}", expr))
    return found


def main():
    worker_bin = sys.argv[1]
    prometheus_bin = shutil.which("prometheus")
    if prometheus_bin is None:
        fail("prometheus is not on PATH (Debian package prometheus; ops/stack up installs it)")
    for var in ("DATABASE_URL", "TEMPORAL_ADDRESS"):
        if var not in os.environ:
            fail(f"{var} is not set: source .acme/env (ops/stack up writes it)")

    work = Path(tempfile.mkdtemp(prefix="acme-scrape-test-"))
    metrics_port, ingress_port, prometheus_port = free_port(), free_port(), free_port()
    queue = f"scrape-test-{os.getpid()}"
    procs = {}
    try:
        env = dict(os.environ)
        env.update(
            {
                # Its own queues, so it takes no work from anyone else's worker on this stack.
                "ACME_TASK_QUEUE": queue,
                "ACME_METRICS_LISTEN": f"127.0.0.1:{metrics_port}",
                "ACME_CALLBACK_LISTEN": f"127.0.0.1:{ingress_port}",
                "ACME_CALLBACK_SECRET": secrets.token_hex(32),
                "ACME_MAX_EXTERNAL_ACTIVITIES": str(EXTERNAL_SLOTS),
                "RUST_LOG": "warn",
                "ACME_LOG_FORMAT": "json",
            }
        )
        LOGS["acme-worker"] = work / "worker.log"
        procs["acme-worker"] = subprocess.Popen(
            [worker_bin],
            env=env,
            stdout=open(LOGS["acme-worker"], "w"),
            stderr=subprocess.STDOUT,
        )
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        wait_for(
            "worker metrics with the SDK's slots",
            lambda: True if b"temporal_worker_task_slots_available" in get(metrics_url) else None,
            procs,
        )

        callback_url = f"http://127.0.0.1:{ingress_port}/custodian/callbacks"
        for _ in range(REFUSED_CALLBACKS):
            request = urllib.request.Request(
                callback_url,
                data=b'{"kind": "settled"}',
                headers={"content-type": "application/json"},
                method="POST",
            )
            try:
                get_status = urllib.request.urlopen(request, timeout=5).status
            except urllib.error.HTTPError as e:
                get_status = e.code
            if get_status != 401:
                fail(f"an unsigned callback got {get_status}, not 401")

        def refusals_logged():
            events = []
            for line in Path(LOGS["acme-worker"]).read_text().splitlines():
                if line.strip():
                    try:
                        events.append(json.loads(line))
                    except json.JSONDecodeError:
                        fail(f"a log line is not JSON: {line!r}")
            refused = [e for e in events if e.get("code") == "callback.unauthenticated"]
            return refused if len(refused) >= REFUSED_CALLBACKS else None

        logged = wait_for("the refusals in the worker's JSON log", refusals_logged, procs)
        if len(logged) != REFUSED_CALLBACKS or logged[0].get("level") != "WARN":
            fail(f"refusals logged: {logged}, expected {REFUSED_CALLBACKS} WARN events")
        print(f"scrape test: the worker's JSON log has the {REFUSED_CALLBACKS} refusals")

        (work / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"rule_files:\n  - {MONITORING / 'rules' / 'acme.rules.yml'}\n"
            "scrape_configs:\n  - job_name: acme-worker\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{metrics_port}']\n"
        )
        LOGS["prometheus"] = work / "prometheus.log"
        procs["prometheus"] = subprocess.Popen(
            [
                prometheus_bin,
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'data'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
            ],
            stdout=open(LOGS["prometheus"], "w"),
            stderr=subprocess.STDOUT,
        )
        prometheus = f"http://127.0.0.1:{prometheus_port}"

        def refused():
            result = query(
                prometheus,
                'acme_callbacks_refused_total{job="acme-worker",reason="unauthenticated"}',
            )
            return result[0]["value"][1] if result else None

        value = wait_for("acme_callbacks_refused_total in Prometheus", refused, procs)
        if float(value) != REFUSED_CALLBACKS:
            fail(f"acme_callbacks_refused_total is {value}, expected {REFUSED_CALLBACKS}")
        print(f"scrape test: acme_callbacks_refused_total{{reason=unauthenticated}} = {value}")

        slots = query(
            prometheus,
            f'temporal_worker_task_slots_available{{task_queue="{queue}.external",'
            'worker_type="ActivityWorker"}',
        )
        if len(slots) != 1 or float(slots[0]["value"][1]) != EXTERNAL_SLOTS:
            fail(f"external bulkhead slots: {slots}, expected one series of {EXTERNAL_SLOTS}")
        print(f"scrape test: temporal_worker_task_slots_available (external) = {EXTERNAL_SLOTS}")

        trades = query(prometheus, "count(acme_trades)")
        if not trades or float(trades[0]["value"][1]) != 12:
            fail(f"acme_trades series: {trades}, expected 12 (2 kinds x 6 statuses)")
        print("scrape test: acme_trades has every kind and status")

        breaks = query(prometheus, "count(acme_reconciliation_breaks_overdue)")
        if not breaks or float(breaks[0]["value"][1]) != 6:
            fail(f"acme_reconciliation_breaks_overdue series: {breaks}, expected 6 (one per class)")
        print("scrape test: acme_reconciliation_breaks_overdue has every break class")

        for where, expr in expressions():
            try:
                query(prometheus, expr)
            except ValueError as e:
                fail(f"{where}: the expression does not evaluate: {e}")
        rules = json.loads(get(f"{prometheus}/api/v1/rules"))["data"]["groups"]
        names = sorted(group["name"] for group in rules)
        expected = ["acme-business-day", "acme-custodian", "acme-runs", "acme-workers"]
        if names != expected:
            fail(f"rule groups loaded: {names}, expected {expected}")
        print(f"scrape test: {len(expressions())} dashboard and rule expressions evaluate")
        print("scrape test: passed")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
