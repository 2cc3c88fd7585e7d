"""Does a campaign's model reproduce its teacher's adsorption energies on its own training cells?

:func:`li_campaign.mlip.evaluate.adsorption_label_errors` (which the fit now stores in its model
document) applied to a finished campaign's model, also one fitted before the fit computed it:
every adatom training cell paired with the clean slab it was built from, the teacher's
E(cell) − n E(slab) − E_bulk and the model's error on it, with the split part the cell was in;
then per facet the mean and largest error beside the campaign's spot-check errors
(``validation``) of that facet's adsorption energies, at the fan-out's cells and geometries.

Usage (where the campaign is installed): python benchmarks/training_adsorption_errors.py CAMPAIGN_DIR
Raw output: ``benchmarks/results/training_adsorption_errors_*.txt``.
"""

from __future__ import annotations

import sys
from collections import defaultdict

from li_campaign.active.report import committee_members
from li_campaign.db.config import Campaign
from li_campaign.mlip.builders import adsorption_errors_by_facet
from li_campaign.mlip.calculator import load_calculator
from li_campaign.mlip.dataset import frame_to_atoms
from li_campaign.mlip.evaluate import adsorption_label_errors
from li_campaign.mlip.jobs import read_frames


def main(campaign_dir: str) -> None:
    """Print the per-cell and per-facet table of one campaign's deployed model."""
    campaign = Campaign(campaign_dir)
    db = campaign.database()
    loop = list(db["active_learning"].find({}))
    models = [doc for doc in db["models"].find({"state": "successful"}) if doc["sha256"] not in committee_members(loop)]
    model = max(models, key=lambda doc: doc["completed_at"])  # the campaign's model, as the report picks it
    store = campaign.job_store()
    store.connect()
    split = store.query_one({"output.sha256": model["sha256"], "output.split": {"$exists": True}}, properties=["output.split"])
    parts = {fid: part for part, ids in split["output"]["split"].items() for fid in ids}
    labels = {
        f["frame_id"]: f["label"]
        for f in db["training_frames"].find({"origin": {"$in": ["adatom", "slab", "bulk_strain"]}}, {"frame_id": 1, "label": 1})
    }
    frames = {f["frame_id"]: frame_to_atoms(f) for f in read_frames(store, sorted(labels))}
    calc = load_calculator(model["deployed_path"], model["sha256"], model["deploy_mode"], "cpu")
    rows = adsorption_label_errors(calc, frames, labels, parts)
    print(f"# campaign {campaign_dir}: model {model['sha256'][:12]} ({model['deploy_mode']}), {len(rows)} adatom cells")
    print(f"{'facet':6s} {'site':10s} {'dz Å':>6s} {'n':>3s} {'part':5s} {'E_ads DFT':>10s} {'model−DFT':>10s}")
    for row in rows:
        dz = "-" if row.height_offset_A is None else f"{row.height_offset_A:+.2f}"
        print(f"{row.facet:6s} {row.site:10s} {dz:>6s} {row.repeats:3d} {row.part:5s} {row.dft_eV:10.4f} {row.error_eV:+10.4f}")
    checks = defaultdict(list)
    for doc in db["validation"].find({"model_sha256": model["sha256"]}):
        for check in doc["checks"]:
            if check["quantity"] == "adsorption_energy" and check.get("error") is not None:
                checks[check["facet"]].append(f"{check['item']} {check['error']:+.3f}")
    print("\n## per facet: model − DFT of the training cells' adsorption energies (eV), and the spot checks")
    print(f"{'facet':6s} {'cells':>5s} {'mean':>8s} {'max |e|':>8s} {'worst cell':18s} spot checks (fan-out cells)")
    for facet, row in adsorption_errors_by_facet([r.model_dump() for r in rows]).items():
        print(f"{facet:6s} {row['n']:5d} {row['mean_eV']:+8.4f} {row['max_abs_eV']:8.4f} {row['worst']:18s} "
              f"{', '.join(checks.get(facet, [])) or '-'}")  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
