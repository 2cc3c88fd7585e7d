"""Per-job wall times of a campaign run on the embedded database, longest first.

Reads FireWorks' mongomock file (``<campaign>/db/fireworks.json``; collections stored as
``{"documents": [[oid, doc], ...]}``) and prints each launch's ``reservedtime_secs`` (offline
launches, as ``li-campaign run`` makes them) with its job name, and their total.

Usage: python benchmarks/job_times.py CAMPAIGN_DIR/db/fireworks.json
"""

from __future__ import annotations

import json
import sys


def _documents(db: dict, collection: str) -> list[dict]:
    docs = db[collection]["documents"]
    docs = docs.values() if isinstance(docs, dict) else docs
    return [d[1] if isinstance(d, list) and len(d) == 2 else d for d in docs]


def main(path: str) -> None:
    db = json.load(open(path))["fireworks"]
    names = {fw["fw_id"]: fw["name"] for fw in _documents(db, "fireworks")}
    rows = sorted(
        ((launch.get("reservedtime_secs") or launch.get("runtime_secs") or 0.0, names.get(launch.get("fw_id"), "?"))
         for launch in _documents(db, "launches")),
        reverse=True,
    )  # fmt: skip
    print("# per-job wall (FireWorks reservedtime_secs of offline launches), longest first")
    print(f"# total job time {sum(t for t, _ in rows):.0f} s over {len(rows)} launches")
    for seconds, name in rows:
        print(f"{seconds:8.1f}  {name}")


if __name__ == "__main__":
    main(sys.argv[1])
