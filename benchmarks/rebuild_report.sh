#!/usr/bin/env bash
# Rebuild a finished campaign's derived collections and report with this checkout's code and compare
# them with the report that campaign wrote: documents stored by older code must still load, build and
# report the same numbers (issue 18: "behaviour unchanged").
# Usage: bash benchmarks/rebuild_report.sh CAMPAIGN_DIR REFERENCE_REPORT_FOLDER [WORKDIR]
#   CAMPAIGN_DIR: the campaign (copied, never changed); REFERENCE_REPORT_FOLDER: its report folder
#   (summary.md, report.json, figures) as written then. Prints what differs; exit status 1 if anything does.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
SRC="$(cd "$1" && pwd)"; REF="$(cd "$2" && pwd)"
WORK="${3:-$(mktemp -d)}"
PY="${PYTHON:-$REPO/.venv/bin/python}"
rm -rf "$WORK/campaign"; mkdir -p "$WORK"; cp -r "$SRC" "$WORK/campaign"
echo "# $(date -u +%FT%TZ) commit $(git -C "$REPO" rev-parse --short HEAD); campaign $SRC; reference $REF"
"$PY" - "$WORK/campaign" <<'PY'
import sys
from li_campaign.db.config import Campaign
from li_campaign.schemas.registry import RESULT_TYPES
db = Campaign(sys.argv[1]).database()
dropped = [r.collection for r in RESULT_TYPES if r.collection in db.list_collection_names()]
for name in dropped:
    db.drop_collection(name)
print(f"dropped {len(dropped)} derived collections: {', '.join(dropped)}; left: {', '.join(sorted(db.list_collection_names()))}")
PY
"$PY" -m li_campaign.cli.main --campaign-dir "$WORK/campaign" build
"$PY" -m li_campaign.cli.main --campaign-dir "$WORK/campaign" report > /dev/null
status=0
for f in "$REF"/*; do
  name="$(basename "$f")"; new="$WORK/campaign/report/$name"
  case "$name" in
    summary.md|report.json)  # the campaign directory (and paths stored under it) differ only by the copy
      if diff <(sed "s#$SRC#CAMPAIGN#g; s#$WORK/campaign#CAMPAIGN#g" "$f") <(sed "s#$SRC#CAMPAIGN#g; s#$WORK/campaign#CAMPAIGN#g" "$new") > "$WORK/$name.diff"; then
        echo "same: $name"; else echo "DIFFERS: $name"; cat "$WORK/$name.diff"; status=1; fi ;;
    *) if cmp -s "$f" "$new"; then echo "same (bytes): $name"; else echo "DIFFERS: $name"; status=1; fi ;;
  esac
done
exit $status
