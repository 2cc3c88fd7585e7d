"""Fit settings side by side on one campaign's frames: holdout errors per origin and the teacher spot checks.

Which ``mlip`` settings make a campaign's model pass its spot checks, without rerunning the
campaign: every variant is fitted to the same exported frames and split, then scored on the
same teacher frames as the campaign's spot checks (at the first model's geometries).

``prepare INDIR SPEC OUTDIR --variant NAME='{"field": value, ...}' ...`` (where the campaign is installed)
    ``INDIR`` from ``benchmarks/nequip_vs_allegro.py export``. For each variant, the spec's
    ``mlip`` section updated by the JSON (validated by the spec's own model, so a wrong field
    is an error naming it), the split's extxyz files and the campaign's own nequip-train config
    (:func:`li_campaign.mlip.nequip_config.nequip_config`) set to train on a GPU, in ``OUTDIR/NAME/``.
    One key is the benchmark's, not the spec's: ``"energy_loss": "total"`` trains on the MSE of the
    total energy instead of the energy per atom (coefficient: the per-atom one over the mean atom
    count squared, so the term starts with the same share), the error an adsorption energy sees.

``run INDIR PREPARED`` (on the GPU machine; needs nequip and pydantic only)
    Fits every prepared variant at once (one ``nequip-train`` each), then prints per variant the
    epochs and training time, the test and training energy MAE per origin, every spot check's
    model − DFT error with the count within its threshold, and per facet the errors on the
    adsorption energies of the adatom training cells against their slabs
    (:func:`li_campaign.mlip.evaluate.adsorption_label_errors`; needs an export with labels).

Raw output: ``benchmarks/results/fit_variants_*.txt``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import yaml
from ase.io import read

from li_campaign.mlip.builders import adsorption_errors_by_facet
from li_campaign.mlip.evaluate import adsorption_label_errors, evaluate_holdout

_SPEC = importlib.util.spec_from_file_location("nequip_vs_allegro", Path(__file__).with_name("nequip_vs_allegro.py"))
nva = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(nva)  # the export format, the fit and the spot-check formulas of that benchmark


def prepare(indir: Path, spec_path: Path, outdir: Path, variants: dict[str, dict]) -> None:
    """Write each variant's split files and nequip-train config for a GPU (``OUTDIR/NAME/``)."""
    # deferred: the campaign stack (pymatgen, GPAW) is absent on the GPU machine that runs `run`
    from li_campaign.mlip.dataset import write_extxyz
    from li_campaign.mlip.jobs import energy_shift
    from li_campaign.mlip.nequip_config import nequip_config, read_scales
    from li_campaign.schemas.spec import load_spec

    mlip = load_spec(spec_path).mlip
    frames = {a.info["frame_id"]: a for a in read(indir / "frames.extxyz", ":")}
    split = json.loads((indir / "split.json").read_text())
    shift_frames = [{"origin": a.info["origin"], "energy_eV": a.get_potential_energy()} for a in frames.values()]
    for name, update in variants.items():
        if update.get("energy_loss", "per_atom") not in ("per_atom", "total"):
            raise SystemExit(f"--variant {name}: energy_loss is per_atom or total, not {update['energy_loss']!r}")
        fields = {k: v for k, v in update.items() if k != "energy_loss"}
        spec = type(mlip).model_validate({**mlip.model_dump(), **fields, "device": "cpu"})
        work = outdir / name
        work.mkdir(parents=True, exist_ok=True)
        files = {p: write_extxyz([frames[i] for i in split[p]], (work / f"{p}.extxyz").resolve()) for p in ("train", "val", "test")}
        config = nequip_config(spec, files, scales=read_scales(files), energy_shift_eV=energy_shift(spec, shift_frames))
        config["trainer"]["accelerator"] = "gpu"
        if update.get("energy_loss") == "total":
            _total_energy_loss(config, float(np.mean([len(frames[i]) for i in split["train"]])))
        (work / "nequip.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        (work / "variant.json").write_text(json.dumps(update))
        print(f"wrote {work}/nequip.yaml: {update}")


def _total_energy_loss(config: dict, mean_n_atoms: float) -> None:
    """Turn the loss's per-atom energy MSE into the total-energy MSE, its coefficient divided by ``mean_n_atoms``²."""
    for metric in config["training_module"]["loss"]["metrics"]:
        if metric["name"] == "per_atom_energy_mse":
            metric.update(name="total_energy_mse", field="total_energy", coeff=metric["coeff"] / mean_n_atoms**2)
            return
    raise SystemExit("nequip config: no per_atom_energy_mse term in the loss to turn into a total-energy one")


def run(indir: Path, prepared: Path, device: str) -> None:
    """Fit every prepared variant at once, then print the side-by-side tables."""
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "-"
    print(f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, GPU {gpu}, "
          f"torch {torch.__version__}; frames {indir}; configs {prepared}", flush=True)  # fmt: skip
    works = sorted(p.parent for p in prepared.glob("*/nequip.yaml"))
    with ThreadPoolExecutor(len(works)) as pool:
        fits = list(pool.map(lambda w: nva.fit(w, device), works))
    frames = {a.info["frame_id"]: a for a in read(indir / "frames.extxyz", ":")}
    split = json.loads((indir / "split.json").read_text())
    checks = json.loads((indir / "checks.json").read_text())
    rows: dict[str, dict] = {}
    for f in fits:
        calc = nva._calculator(f["deployed"], f["mode"], device)
        f["test"] = evaluate_holdout(calc, [frames[i] for i in split["test"]])[0]
        f["train"] = evaluate_holdout(calc, [frames[i] for i in split["train"]])[0]
        for key, (row, error) in nva.spot_check_errors(calc, frames, checks).items():
            rows.setdefault(key, row)[f["work"]] = error
        labels = {fid: atoms.info["label"] for fid, atoms in frames.items() if "label" in atoms.info}
        parts = {fid: part for part, ids in split.items() if part in ("train", "val", "test") for fid in ids}
        cells = [row.model_dump() for row in adsorption_label_errors(calc, frames, labels, parts)]
        f["adsorption"] = adsorption_errors_by_facet(cells)
    names = [f["work"] for f in fits]
    print("\n## variants (updates of the spec's mlip section)")
    for f, w in zip(fits, works):
        print(f"{f['work']:12s} epochs {f['epochs']:4d}  train {f['train_s']:6.0f} s  {(w / 'variant.json').read_text()}")
    for part in ("test", "train"):
        print(f"\n## {part} energy MAE per origin (meV/atom); force MAE of all frames (meV/Å) last")
        print(f"{'origin':16s} {'frames':>6s} " + " ".join(f"{n[:10]:>10s}" for n in names))
        for origin in sorted(fits[0][part].by_origin):
            errs = [f[part].by_origin[origin] for f in fits]
            print(f"{origin:16s} {errs[0].n_frames:6d} " + " ".join(f"{e.energy_mae_meV_atom:10.2f}" for e in errs))
        print(f"{'all E':16s} {fits[0][part].n_frames:6d} " + " ".join(f"{f[part].energy_mae_meV_atom:10.2f}" for f in fits))
        print(f"{'all F':16s} {fits[0][part].n_frames:6d} " + " ".join(f"{f[part].force_mae_meV_A:10.1f}" for f in fits))
    print("\n## spot checks on the teacher's frames: model − DFT (eV; J/m² for surface_energy)")
    print(f"{'check':44s} {'dft':>8s} {'thresh':>6s} " + " ".join(f"{n[:10]:>10s}" for n in names))
    for key, row in rows.items():
        print(f"{key[:44]:44s} {row['dft']:8.4f} {row['threshold']:6.3f} " + " ".join(f"{row[n]:+10.4f}" for n in names))
    print("\n## adsorption energies of the adatom training cells against their slabs: model − DFT, mean / max |e| (eV)")
    print(f"{'facet':8s} " + " ".join(f"{n[:15]:>15s}" for n in names))
    for facet in fits[0]["adsorption"]:
        print(f"{facet:8s} " + " ".join(f"{f['adsorption'][facet]['mean_eV']:+7.3f}/{f['adsorption'][facet]['max_abs_eV']:6.3f}"
                                        for f in fits))  # fmt: skip
    for n in names:
        within = sum(abs(r[n]) <= r["threshold"] for r in rows.values())
        worst = max(abs(r[n]) / r["threshold"] for r in rows.values())
        print(f"{n}: within threshold {within}/{len(rows)}, worst |error|/threshold {worst:.2f}, "
              f"mean |error| {np.mean([abs(r[n]) for r in rows.values()]):.4f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    pr = sub.add_parser("prepare")
    pr.add_argument("indir", type=Path)
    pr.add_argument("spec", type=Path)
    pr.add_argument("outdir", type=Path)
    pr.add_argument("--variant", action="append", required=True, metavar="NAME=JSON",
                    help="a variant: its name and the JSON that updates the spec's mlip section")  # fmt: skip
    rn = sub.add_parser("run")
    rn.add_argument("indir", type=Path)
    rn.add_argument("prepared", type=Path)
    rn.add_argument("--device", default="cuda")
    args = parser.parse_args()
    if args.command == "prepare":
        variants = {}
        for item in args.variant:
            name, _, text = item.partition("=")
            try:
                variants[name] = json.loads(text)
            except json.JSONDecodeError as exc:
                parser.error(f"--variant {name}: not JSON ({exc})")
        prepare(args.indir, args.spec, args.outdir, variants)
    else:
        run(args.indir, args.prepared, args.device)


if __name__ == "__main__":
    main()
