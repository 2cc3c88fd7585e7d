"""Probe: how well does a NequIP fit reproduce the Morse teacher of tests/data/e2e_morse.yaml?

Builds the spec's training set (with ``training_set`` overrides), labels it with the Morse
teacher (frames along adatom relaxations are taken every ``relax.stride`` BFGS steps, as the
label job does), trains with ``mlip`` overrides, and prints the per-split energy and force errors,
then a0, γ(100) and the (100) E_ads per site for the model and for the teacher, computed by the
campaign's own functions. Used to choose the e2e spec and to measure its gap (issue 15/17);
raw output: benchmarks/results/e2e_fit_probe_2026-12-02.txt.

Usage: python benchmarks/e2e_fit_probe.py TAG TRAINING_SET_JSON MLIP_JSON
MLIP_JSON may also hold ``"_no_zbl": true`` (drop nequip's ZBL pair prior) and
``"_total_loss": true`` (total-energy instead of per-atom-energy loss). Work files go to
/tmp/e2e_fit_probe/TAG.
"""
import json, sys, time
from pathlib import Path
import numpy as np, yaml
from ase.calculators.singlepoint import SinglePointCalculator
from ase.optimize import BFGS
from pymatgen.io.ase import AseAtomsAdaptor
from li_campaign.bulk.eos import fit_bulk_eos
from li_campaign.core.hashing import file_sha256
from li_campaign.dft.engines import make_calculator
from li_campaign.geometry.slabs import make_symmetric_slab
from li_campaign.mlip import nequip_cli
from li_campaign.mlip.calculator import load_calculator
from li_campaign.mlip.dataset import write_extxyz, split_frames
from li_campaign.mlip.nequip_config import nequip_config
from li_campaign.schemas.spec import spec_from_dict
from li_campaign.structures.training_set import generate_training_structures
from li_campaign.surfaces.adsorption import adsorption_sites
from li_campaign.surfaces.surface_energy import surface_energy

tag = sys.argv[1]; ts_over = json.loads(sys.argv[2]); ml_over = json.loads(sys.argv[3]); no_zbl = ml_over.pop("_no_zbl", False); total_loss = ml_over.pop("_total_loss", False)
raw = yaml.safe_load(open(Path(__file__).resolve().parents[1] / "tests" / "data" / "e2e_morse.yaml"))
for k, v in ts_over.items():
    if isinstance(v, dict) and isinstance(raw["training_set"].get(k), dict): raw["training_set"][k].update(v)
    else: raw["training_set"][k] = v
raw["mlip"].update(ml_over)
spec = spec_from_dict(raw)
teacher, _ = make_calculator(None, spec.dft)
structs = generate_training_structures(spec.training_set, spec.seed)
rel = spec.training_set.relax
atoms = []
def add(a, origin):
    a.calc = teacher; e = a.get_potential_energy(); f = a.get_forces(); s = a.get_stress()
    b = a.copy(); b.calc = SinglePointCalculator(b, energy=e, forces=f, stress=s); b.info["origin"] = origin; b.info["frame_id"] = f"{len(atoms):04d}"
    atoms.append(b)
for ts in structs:
    a = AseAtomsAdaptor.get_atoms(ts.structure)
    if ts.calculation == "relax":
        traj = []
        a.calc = teacher
        opt = BFGS(a, logfile=None); opt.attach(lambda: traj.append(a.copy()), interval=1)
        opt.run(fmax=rel.fmax_eV_A, steps=rel.max_steps)
        keep = list(range(0, len(traj), rel.stride)); 
        if len(traj) - 1 not in keep: keep.append(len(traj) - 1)
        for i in keep: add(traj[i], ts.origin)
    else:
        add(a, ts.origin)
from collections import Counter
print(tag, "frames by origin", dict(Counter(a.info["origin"] for a in atoms)), flush=True)
ids = [a.info["frame_id"] for a in atoms]
split = split_frames(ids, spec.mlip.split.model_dump(), spec.mlip.seed)
by = {a.info["frame_id"]: a for a in atoms}
work = Path(f"/tmp/e2e_fit_probe/{tag}"); work.mkdir(parents=True, exist_ok=True)
files = {p: write_extxyz([by[i] for i in v], work / f"{p}.extxyz") for p, v in split.items()}
cfg = nequip_config(spec.mlip, files)
if no_zbl: cfg["training_module"]["model"].pop("pair_potential")
if total_loss: cfg["training_module"]["loss"]["per_atom_energy"] = False
(work / "nequip.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
t = time.perf_counter(); ck = nequip_cli.train(work / "nequip.yaml", work / "train"); tt = time.perf_counter() - t
pkg = nequip_cli.package(ck, work / "model.nequip.zip")
calc = load_calculator(pkg, file_sha256(pkg), "eager", "cpu")
out = {}
for part in ("train", "val", "test"):
    de, fe = [], []
    for fid in split[part]:
        a = by[fid].copy(); re = by[fid].get_potential_energy() / len(a); rf = by[fid].get_forces()
        a.calc = calc; de.append(abs(a.get_potential_energy() / len(a) - re) * 1000); fe.append(np.abs(a.get_forces() - rf).mean() * 1000)
    out[part] = (round(float(np.mean(de)), 2), round(float(np.max(de)), 2), round(float(np.mean(fe)), 2))
res = {}
for name, c in (("model", calc), ("teacher", teacher)):
    b = fit_bulk_eos(c, 3.57, spec.fanout.eos)
    slab = make_symmetric_slab(b["lattice_constant_A"], (1, 0, 0), spec.fanout.slab.min_slab_size_A, spec.fanout.slab.min_vacuum_A)
    g = surface_energy(c, slab, b["energy_per_atom_eV"], spec.fanout.relax)["surface_energy_J_m2"]
    ads = adsorption_sites(c, slab, b["energy_per_atom_eV"], spec.fanout)
    res[name] = (round(b["lattice_constant_A"], 4), round(g, 4), {s.label: round(s.adsorption_energy_eV, 3) for s in ads["sites"]}, ads["min_site"])
print(tag, len(atoms), "frames", ts_over, ml_over, f"train {tt:.0f}s", "dE mean/max, F mae:", out, res, flush=True)
