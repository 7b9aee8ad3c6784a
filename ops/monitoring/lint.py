#!/usr/bin/env python3
"""Static checks of the dashboards and alert rules that promtool cannot make (ADR 16):

- every dashboard is JSON with a uid, a title and panels, each panel on the `${datasource}`
  variable (so one file works against any Prometheus);
- every `acme_*` metric a dashboard or rule names is one the code defines (sdk/src/metrics.rs,
  custodian/src/metrics.rs);
- every alert has a runbook_url `docs/operations.md#<anchor>` whose anchor is a heading there;
- the workers' terminationGracePeriodSeconds (deploy/worker.yaml) is longer than the worker's
  graceful shutdown (acme_worker::GRACEFUL_SHUTDOWN) and than the longest heartbeat timeout
  (sdk/src/activity_options.rs), so a stopping worker is never killed inside either.

Exit 1 with every problem listed, 0 when there is none.
"""

import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "ops" / "monitoring"
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def defined_metrics():
    names = set()
    for source in ("sdk/src/metrics.rs", "custodian/src/metrics.rs"):
        names |= set(re.findall(r'"(acme_[a-z_]+)"', (REPO / source).read_text()))
    return names


def anchors(markdown: str):
    """GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens."""
    found = set()
    for line in markdown.splitlines():
        m = re.match(r"^#{1,6}\s+(.*)$", line)
        if m:
            text = m.group(1).strip().lower()
            text = re.sub(r"[^\w\- ]", "", text)
            found.add(text.replace(" ", "-"))
    return found


def grace_period_problems():
    graceful = re.search(
        r"GRACEFUL_SHUTDOWN: Duration = Duration::from_secs\((\d+)\)",
        (REPO / "worker/src/lib.rs").read_text(),
    )
    heartbeats = re.findall(
        r"heartbeat_timeout\(Duration::from_secs\((\d+)\)\)",
        (REPO / "sdk/src/activity_options.rs").read_text(),
    )
    grace = re.findall(r"terminationGracePeriodSeconds: (\d+)", (REPO / "deploy/worker.yaml").read_text())
    if not graceful or not heartbeats or len(grace) != 1:
        return ["cannot find GRACEFUL_SHUTDOWN, the heartbeat timeouts or the worker's terminationGracePeriodSeconds"]
    longest = max(int(graceful.group(1)), *(int(h) for h in heartbeats))
    if int(grace[0]) <= longest:
        return [f"deploy/worker.yaml: terminationGracePeriodSeconds {grace[0]} is not longer than {longest} s"]
    return []


def main():
    problems = []
    defined = defined_metrics()
    used = []  # (where, metric)
    for path in sorted((MONITORING / "dashboards").glob("*.json")):
        try:
            dashboard = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            problems.append(f"{path.name}: not JSON: {e}")
            continue
        for key in ("uid", "title", "panels"):
            if not dashboard.get(key):
                problems.append(f"{path.name}: no {key}")
        for panel in dashboard.get("panels", []):
            if panel.get("type") == "row":
                continue
            if panel.get("datasource", {}).get("uid") != "${datasource}":
                problems.append(f"{path.name}: panel {panel.get('title')!r} is not on ${{datasource}}")
            if not panel.get("targets"):
                problems.append(f"{path.name}: panel {panel.get('title')!r} has no query")
            for target in panel.get("targets", []):
                for metric in re.findall(r"\bacme_[a-z_]+", target.get("expr", "")):
                    used.append((f"{path.name}: {panel.get('title')}", metric))
    operations = (REPO / "docs" / "operations.md").read_text()
    known_anchors = anchors(operations)
    for path in sorted((MONITORING / "rules").glob("*.rules.yml")):
        text = path.read_text()
        # Comments may name crates and prefixes; only the rules' own text counts.
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        for metric in re.findall(r"\bacme_[a-z_]+", code):
            used.append((path.name, metric))
        # Alerts are YAML list items; each must carry its runbook_url before the next one.
        for block in re.split(r"\n\s*- alert: ", text)[1:]:
            name = block.split("\n", 1)[0].strip()
            m = re.search(r"runbook_url: docs/operations\.md#([\w-]+)", block)
            if not m:
                problems.append(f"{path.name}: alert {name} has no runbook_url into docs/operations.md")
            elif m.group(1) not in known_anchors:
                problems.append(f"{path.name}: alert {name}'s runbook #{m.group(1)} is no heading of docs/operations.md")
            elif m.group(1) != name.lower():
                problems.append(f"{path.name}: alert {name}'s runbook anchor should be #{name.lower()}")
    for where, metric in used:
        base = metric
        for suffix in HISTOGRAM_SUFFIXES:
            if base.endswith(suffix) and base[: -len(suffix)] in defined:
                base = base[: -len(suffix)]
        if base not in defined:
            problems.append(f"{where}: {metric} is not defined in sdk/src/metrics.rs or custodian/src/metrics.rs")
    problems += grace_period_problems()
    for problem in problems:
        print(f"monitoring lint: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"monitoring lint: {len(used)} metric uses and every alert's runbook check out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
