"""Is a spot check's DFT adsorption energy converged in k-points? Recompute it on denser meshes.

Takes a finished campaign's teacher spot check of one adsorption site (its clean-slab and
slab+adatom frames at the model's geometry, and the bulk frame), reads the three structures back
from the campaign's JobStore and labels them again with the campaign's own GPAW settings on
denser Γ-centred meshes (the slab cells' in-plane mesh n×n×1, the 2-atom bulk cube m×m×m), then
prints E_ads = E(slab+adatom) − E(clean slab) − E(bulk)/atom per mesh, the stored labels' value
first. Everything but the mesh is the campaign's ``dft`` section.

Usage: python benchmarks/teacher_kpoints.py CAMPAIGN_DIR SPEC.yaml CLEAN_ID ADATOM_ID BULK_ID n:m [n:m ...]
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone

from li_campaign.db.config import Campaign
from li_campaign.dft.engines import label_atoms
from li_campaign.mlip.dataset import frame_to_atoms
from li_campaign.mlip.jobs import read_frames
from li_campaign.schemas.spec import load_spec


def main() -> None:
    campaign_dir, spec_path, clean_id, adatom_id, bulk_id, *meshes = sys.argv[1:]
    dft = load_spec(spec_path).dft
    store = Campaign(campaign_dir).job_store()
    store.connect()
    frames = {f["frame_id"]: f for f in read_frames(store, [clean_id, adatom_id, bulk_id])}
    atoms = {key: frame_to_atoms(frames[fid]) for key, fid in (("clean", clean_id), ("adatom", adatom_id), ("bulk", bulk_id))}
    print(f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, load {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"# campaign {campaign_dir}, dft settings of {spec_path}: {dft.gpaw.model_dump()}")
    print(f"# frames: {clean_id} ({len(atoms['clean'])} atoms), {adatom_id} ({len(atoms['adatom'])}), {bulk_id} ({len(atoms['bulk'])})")
    stored = {key: a.get_potential_energy() for key, a in atoms.items()}
    settings = {key: frames[fid]["provenance"]["dft_settings"]["kpts"] for key, fid in (("clean", clean_id), ("adatom", adatom_id), ("bulk", bulk_id))}
    e_ads = stored["adatom"] - stored["clean"] - stored["bulk"] / len(atoms["bulk"])
    print(f"{'slab mesh':>10} {'bulk mesh':>10} {'E_clean_eV':>14} {'E_adatom_eV':>14} {'E_bulk_atom_eV':>15} {'E_ads_eV':>9} {'wall_s':>7}")
    print(f"{str(settings['clean']):>10} {str(settings['bulk']):>10} {stored['clean']:14.5f} {stored['adatom']:14.5f} "
          f"{stored['bulk'] / len(atoms['bulk']):15.5f} {e_ads:9.4f}   (stored labels)", flush=True)  # fmt: skip
    for mesh in meshes:
        n, m = (int(x) for x in mesh.split(":"))
        start = time.perf_counter()
        energies = {}
        with tempfile.TemporaryDirectory() as work:
            for key, kpts, slab in (("clean", (n, n, 1), True), ("adatom", (n, n, 1), True), ("bulk", (m, m, m), False)):
                bare = atoms[key].copy()
                bare.calc = None
                energies[key] = label_atoms(bare, dft, slab=slab, workdir=work, kpts=kpts, stress=False).energy
        e_ads = energies["adatom"] - energies["clean"] - energies["bulk"] / len(atoms["bulk"])
        print(f"{str([n, n, 1]):>10} {str([m, m, m]):>10} {energies['clean']:14.5f} {energies['adatom']:14.5f} "
              f"{energies['bulk'] / len(atoms['bulk']):15.5f} {e_ads:9.4f} {time.perf_counter() - start:7.0f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
