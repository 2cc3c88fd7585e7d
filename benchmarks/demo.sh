#!/usr/bin/env bash
# Measure `make demo` as a new user would: a fresh clone of this repository's HEAD, the
# install included, then the report. Writes the raw evidence the README's demo table quotes:
#   benchmarks/results/demo_<date>/{machine.txt, make_demo.log, time.txt, report.json, status.json, model.json}
# (model.json: the fit's own timings and errors from the `models` collection).
# Usage: bash benchmarks/demo.sh [OUTDIR]
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-$REPO/benchmarks/results/demo_$(date -u +%Y-%m-%d)}"
mkdir -p "$OUT"
WORK="$(mktemp -d)"
git clone -q "$REPO" "$WORK/li-campaign"
cd "$WORK/li-campaign"
{
  echo "date_utc: $(date -u +%FT%TZ)"
  echo "commit: $(git rev-parse HEAD)"
  echo "nproc: $(nproc)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p')"
  echo "memory: $(free -g | awk '/Mem:/ {print $2 " GiB"}')"
  echo "os: $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "python: $(python3 --version 2>&1)"
  echo "load_average_before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.txt"
MODEL_DUMP='import json, sys
from li_campaign.db.config import Campaign
doc = Campaign(sys.argv[1]).database()["models"].find_one({}, {"_id": 0, "parity": 0, "hyperparameters": 0})
print(json.dumps(doc, indent=2, default=str))'
start=$(date +%s.%N)
/usr/bin/time -v -o "$OUT/time.txt" make demo > "$OUT/make_demo.log" 2>&1
end=$(date +%s.%N)
echo "load_average_after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
echo "make_demo_wall_s: $(echo "$end - $start" | bc)" >> "$OUT/machine.txt"
.venv/bin/li-campaign --campaign-dir campaign report --json > "$OUT/report.json"
.venv/bin/li-campaign --campaign-dir campaign status --json > "$OUT/status.json"
.venv/bin/python -c "$MODEL_DUMP" campaign > "$OUT/model.json"
cp -r campaign/report "$OUT/report_folder"
.venv/bin/python benchmarks/job_times.py campaign/db/fireworks.json > "$OUT/job_times.txt"
echo "wrote $OUT"
