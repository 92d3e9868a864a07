"""Figures of one Schemathesis run from its NDJSON report (tests/schemathesis/run).

    python summary.py REPORT.ndjson

Prints one line: requests sent (every recorded interaction, the extra
requests of the ignored_auth check included), checks evaluated and how many
kinds, failures, and the statuses the Worker answered.
"""

import collections
import json
import sys


def main(path: str) -> None:
    requests = 0
    checks = 0
    failed = 0
    kinds: set[str] = set()
    statuses: collections.Counter[int] = collections.Counter()
    for line in open(path, encoding="utf-8"):
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished["recorder"]
        for interaction in recorder.get("interactions", {}).values():
            response = interaction.get("response")
            requests += 1
            if response is not None:
                statuses[response["status_code"]] += 1
        for results in recorder.get("checks", {}).values():
            for check in results:
                checks += 1
                kinds.add(check["name"])
                if check["status"] != "success":
                    failed += 1
    by_status = ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items()))
    print(
        f"schemathesis: {requests} requests, {checks} checks ({len(kinds)} kinds), "
        f"{failed} failed; statuses {by_status}"
    )


if __name__ == "__main__":
    main(sys.argv[1])
