"""NequIP and Allegro side by side on one training set: holdout errors per origin, spot checks, speed.

Three steps:

``export CAMPAIGN_DIR REPORT_JSON OUTDIR``
    Reads a finished campaign's fit (the ``models`` document: its train/val/test split) and the
    frames of its JobStore, and the spot checks of its ``report --json`` (``validation.checks``,
    whose ``frame_ids`` are the teacher's frames: bulk, then slab+adatom and clean slab, or the
    band's end and images, or the slab). Writes ``OUTDIR/frames.extxyz`` (DFT labels, with
    ``frame_id``, ``origin`` and ``stress_masked``), ``OUTDIR/split.json`` and ``OUTDIR/checks.json``.

``prepare INDIR SPEC OUTDIR [--arch nequip allegro]`` (where the campaign is installed)
    Writes, for each architecture, the split's extxyz files and the campaign's own nequip-train
    config (:func:`li_campaign.mlip.nequip_config.nequip_config`) for the spec's ``mlip`` section
    with only ``mlip.architecture`` changed (Allegro takes the spec's ``mlip.allegro`` section or
    its defaults), set to train on a GPU, into ``OUTDIR/<arch>/``.

``run INDIR PREPARED [--arch nequip allegro]`` (on the GPU machine; needs nequip and pydantic only)
    Trains, packages and compiles every prepared model with the campaign's nequip tools
    (:mod:`li_campaign.mlip.nequip_cli`), the fits at once, each in its own ``nequip-train``.
    Then, for each model:

    - holdout errors per origin on the split's test frames and the training errors
      (:func:`li_campaign.mlip.evaluate.evaluate_holdout`);
    - the spot checks recomputed from the model's energies on the teacher's own frames
      (adsorption energy, barrier along the band, surface energy; the DFT values are recomputed
      from the frames' labels and must equal the report's to 1e-6 eV, else the script stops);
    - speed: energy+forces calls on the exported frames one at a time (atom-steps/s = atoms /
      seconds per call summed over frames) and on one rattled bcc bulk cell of
      2 × reps³ atoms, in the deployed mode (AOTInductor where the compile succeeds, else the eager
      package: the line says which).

Prints one table per quantity with the two models side by side. The exported demo fit (stop 29's
``make demo``) is in ``benchmarks/data/demo_s29_frames``; raw output in
``benchmarks/results/nequip_vs_allegro_*.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import yaml
from ase.build import bulk
from ase.io import read, write
from ase.units import _e

# what `run` needs on the GPU machine: nequip and pydantic, not the campaign stack
from li_campaign.core.hashing import file_sha256
from li_campaign.mlip import nequip_cli
from li_campaign.mlip.calculator import load_calculator
from li_campaign.mlip.evaluate import evaluate_holdout

EV_A2_TO_J_M2 = _e * 1e20  # as li_campaign.surfaces.surface_energy, whose imports the GPU machine lacks

BAND_QUANTITIES = ("barrier",)


def export(campaign_dir: Path, report_json: Path, outdir: Path) -> None:
    """Write the fit's frames, its split and the spot checks' frames of a finished campaign."""
    # deferred: the campaign stack (FireWorks, pymatgen, GPAW) is absent on the GPU machine that runs `run`
    from li_campaign.db.config import Campaign
    from li_campaign.mlip.dataset import frame_to_atoms
    from li_campaign.mlip.jobs import read_frames


    campaign = Campaign(campaign_dir)
    store = campaign.job_store()
    store.connect()
    sha = campaign.database()["models"].find_one({}, {"sha256": 1})["sha256"]
    model = store.query_one({"output.sha256": sha, "output.split": {"$exists": True}}, properties=["output"])["output"]
    checks = [c for c in json.loads(report_json.read_text())["validation"]["checks"] if c["frame_ids"]]
    ids = sorted({i for part in model["split"].values() for i in part} | {i for c in checks for i in c["frame_ids"]})
    frames = []
    for doc in read_frames(store, ids):
        frames.append(frame_to_atoms(doc))
        frames[-1].info["label"] = doc["label"]  # pairs adatom cells with their slabs (fit_variants.py)
    outdir.mkdir(parents=True, exist_ok=True)
    write(outdir / "frames.extxyz", frames, format="extxyz")
    (outdir / "split.json").write_text(json.dumps({"model_sha256": model["sha256"], **model["split"]}, indent=1))
    (outdir / "checks.json").write_text(json.dumps(checks, indent=1))
    print(f"wrote {len(frames)} frames, the split of model {model['sha256'][:12]} and {len(checks)} checks to {outdir}")


def spot_check_value(quantity: str, ids: list[str], energy, frames: dict) -> float:
    """A spot check's value from per-frame energies ``energy(frame_id)`` (eV), as the validation stage defines it.

    ``ids[0]`` is the teacher's bulk cell (energy per atom E_b). Adsorption energy:
    E(slab+adatom) − E(slab) − E_b with ``ids[1:3]``; barrier: highest image minus the band's
    first end ``ids[1]``; surface energy: (E(slab) − N E_b) / 2A of ``ids[1]`` (J/m²).
    """
    e_bulk = energy(ids[0]) / len(frames[ids[0]])
    if quantity == "adsorption_energy":
        return energy(ids[1]) - energy(ids[2]) - e_bulk
    if quantity in BAND_QUANTITIES:
        return max(energy(i) for i in ids[2:]) - energy(ids[1])
    if quantity == "surface_energy":
        slab = frames[ids[1]]
        area = np.linalg.norm(np.cross(slab.cell[0], slab.cell[1]))
        return (energy(ids[1]) - len(slab) * e_bulk) / (2 * area) * EV_A2_TO_J_M2
    raise ValueError(f"checks.json: no frame-based value for quantity {quantity!r}")


def spot_check_errors(calc, frames: dict, checks: list[dict]) -> dict[str, tuple[dict, float]]:
    """Each spot check's model − DFT on the teacher's frames: ``{key: ({"dft", "threshold", "unit"}, error)}``.

    The DFT value is recomputed from the frames' labels and must equal the report's to 1e-6 (else
    the script stops); each frame's model energy is computed once.
    """
    cache: dict[str, float] = {}

    def energy(fid: str) -> float:
        if fid not in cache:
            atoms = frames[fid].copy()
            atoms.calc = calc
            cache[fid] = atoms.get_potential_energy()
        return cache[fid]

    out = {}
    for c in checks:
        key = f"{c['quantity']} {c['facet']} {c['item']}"
        dft = spot_check_value(c["quantity"], c["frame_ids"], lambda i: frames[i].get_potential_energy(), frames)
        if abs(dft - c["dft"]) > 1e-6:
            raise SystemExit(f"checks.json {key}: DFT value from the frames {dft:.6f} != report's {c['dft']:.6f}")
        row = {"dft": dft, "threshold": c["threshold"], "unit": c["unit"]}
        out[key] = (row, spot_check_value(c["quantity"], c["frame_ids"], energy, frames) - dft)
    return out


def prepare(indir: Path, spec_path: Path, outdir: Path, archs: list[str], allegro: dict) -> None:
    """Write each architecture's split files and nequip-train config for a GPU (``OUTDIR/<arch>/``).

    The config is the campaign's own (:func:`li_campaign.mlip.nequip_config.nequip_config`) for the
    spec's ``mlip`` section with ``architecture`` replaced; it is written here, where the campaign
    stack is installed, with ``trainer.accelerator: gpu`` for the machine that trains. ``allegro``
    updates the spec's ``mlip.allegro`` section (e.g. wider layers for a model of the NequIP's size).
    """
    # deferred: the campaign stack (pymatgen, GPAW) is absent on the GPU machine that runs `run`
    from li_campaign.mlip.dataset import write_extxyz
    from li_campaign.mlip.jobs import energy_shift
    from li_campaign.mlip.nequip_config import nequip_config, read_scales
    from li_campaign.schemas.spec import load_spec

    mlip = load_spec(spec_path).mlip
    frames = {a.info["frame_id"]: a for a in read(indir / "frames.extxyz", ":")}
    split = json.loads((indir / "split.json").read_text())
    shift_frames = [{"origin": a.info["origin"], "energy_eV": a.get_potential_energy()} for a in frames.values()]
    for arch in archs:
        fields = {**mlip.model_dump(), "architecture": arch, "device": "cpu"}
        if arch == "allegro":
            fields["allegro"] = {**(fields.get("allegro") or {}), **allegro}
        spec = type(mlip).model_validate(fields)
        work = outdir / arch
        work.mkdir(parents=True, exist_ok=True)
        files = {p: write_extxyz([frames[i] for i in split[p]], (work / f"{p}.extxyz").resolve()) for p in ("train", "val", "test")}
        config = nequip_config(spec, files, scales=read_scales(files), energy_shift_eV=energy_shift(spec, shift_frames))
        config["trainer"]["accelerator"] = "gpu"
        (work / "nequip.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        section = f", allegro {spec.allegro.model_dump()}" if arch == "allegro" else ""
        print(f"wrote {work}/nequip.yaml ({arch}, r_max {spec.r_max_A} Å{section})")


def fit(work: Path, device: str, trained: Path | None = None) -> dict:
    """Train (unless ``trained``, an existing package of this config, is given), package and compile.

    Returns the paths, the deploy mode and the timings.
    """
    work = work.resolve()
    config = work / "nequip.yaml"
    cfg = yaml.safe_load(config.read_text())
    arch = "allegro" if "allegro" in cfg["training_module"]["model"]["_target_"] else "nequip"
    if trained is not None:
        package = work / "model.nequip.zip"
        shutil.copyfile(trained, package)
        train_s, epochs = float("nan"), 0
    else:
        for part in ("train", "val", "test"):  # the files travel with the folder: point at them where it is now
            cfg["data"][f"{part}_file_path"] = str((work / f"{part}.extxyz").resolve())
        config.write_text(yaml.safe_dump(cfg, sort_keys=False))
        start = time.perf_counter()
        checkpoint = nequip_cli.train(config, work / "train")
        train_s = time.perf_counter() - start
        epochs = len(nequip_cli.learning_curve(work / "train"))
        package = nequip_cli.package(checkpoint, work / "model.nequip.zip")
    start = time.perf_counter()
    try:
        deployed, mode = nequip_cli.compile_aoti(package, work / "model.nequip.pt2", device=device, target="ase"), "aotinductor"
        note = ""
    except nequip_cli.NequipError as exc:
        deployed, mode, note = package, "eager", f"(AOTInductor compile failed: {str(exc).splitlines()[0][:100]})"
    compile_s = time.perf_counter() - start
    return {"arch": arch, "work": work.name, "package": package, "deployed": deployed, "mode": mode, "note": note,
            "train_s": train_s, "epochs": epochs, "compile_s": compile_s,
            "trained": f"(trained before: {trained.name})" if trained else ""}  # fmt: skip


def _calculator(path: Path, mode: str, device: str):
    """The deployed file loaded as the jobs load it (sha256-checked)."""
    return load_calculator(path, file_sha256(path), mode, device)


def _per_call_s(atoms, device: str, reps: int) -> float:
    """Seconds per energy+forces call of ``atoms`` (its calculator set), after one warm-up call."""
    atoms.get_forces()  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(reps):
        atoms.positions[0, 0] += 1e-4
        atoms.get_forces()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / reps


def run(indir: Path, prepared: Path, archs: list[str], device: str, large_reps: list[int], trained: dict[str, Path]) -> None:
    """Fit every prepared architecture at once, then print the side-by-side tables."""
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "-"
    print(f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, GPU {gpu}, "
          f"torch {torch.__version__}; frames {indir}; configs {prepared}", flush=True)  # fmt: skip
    with ThreadPoolExecutor(len(archs)) as pool:
        fits = list(pool.map(lambda a: fit(prepared / a, device, trained.get(a)), archs))
    frames = {a.info["frame_id"]: a for a in read(indir / "frames.extxyz", ":")}
    split = json.loads((indir / "split.json").read_text())
    checks = json.loads((indir / "checks.json").read_text())
    rows: dict[str, dict] = {}
    for f in fits:
        calc = _calculator(f["deployed"], f["mode"], device)
        eager = _calculator(f["package"], "eager", device)
        f["n_parameters"] = int(sum(p.numel() for p in eager.model.parameters()))
        f["test"] = evaluate_holdout(calc, [frames[i] for i in split["test"]])[0]
        f["train"] = evaluate_holdout(calc, [frames[i] for i in split["train"]])[0]
        for key, (row, error) in spot_check_errors(calc, frames, checks).items():
            rows.setdefault(key, row)[f["arch"]] = error
        small = [frames[i].copy() for i in sorted(frames)]
        seconds = 0.0
        for atoms in small:
            atoms.calc = calc
            seconds += _per_call_s(atoms, device, reps=5)
        f["small_atom_steps_s"] = sum(len(a) for a in small) / seconds
        f["small_n"] = len(small)
        f["large"] = {}
        for reps in large_reps:
            cell = bulk("Li", "bcc", a=3.44, cubic=True).repeat(reps)
            cell.rattle(0.05, seed=0)
            for mode, model in ((f["mode"], calc), ("eager", eager)) if f["mode"] != "eager" else (("eager", eager),):
                cell.calc = model
                try:
                    f["large"][(len(cell), mode)] = len(cell) / _per_call_s(cell, device, reps=3)
                except Exception as exc:  # noqa: BLE001 (an out-of-memory or a shape bound of the build: reported)
                    f["large"][(len(cell), mode)] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
                if device == "cuda":
                    torch.cuda.empty_cache()
    names = [f["arch"] for f in fits]
    print("\n## models")
    for f in fits:
        print(f"{f['arch']:8s} parameters {f['n_parameters']:7d}  epochs {f['epochs']:4d}  train {f['train_s']:6.0f} s  "
              f"compile {f['compile_s']:5.0f} s  deployed {f['mode']} {f['note']}{f['trained']}")  # fmt: skip
    for part in ("test", "train"):
        print(f"\n## {part} errors per origin: energy MAE meV/atom | force MAE meV/Å")
        print(f"{'origin':16s} {'frames':>6s} " + " ".join(f"{n + ' E':>12s} {n + ' F':>12s}" for n in names))
        for origin in sorted(fits[0][part].by_origin):
            errs = [f[part].by_origin[origin] for f in fits]
            print(f"{origin:16s} {errs[0].n_frames:6d} "
                  + " ".join(f"{e.energy_mae_meV_atom:12.2f} {e.force_mae_meV_A:12.1f}" for e in errs))  # fmt: skip
        print(f"{'all':16s} {fits[0][part].n_frames:6d} "
              + " ".join(f"{f[part].energy_mae_meV_atom:12.2f} {f[part].force_mae_meV_A:12.1f}" for f in fits))  # fmt: skip
    print("\n## spot checks on the teacher's frames: model − DFT (eV; J/m² for surface_energy)")
    print(f"{'check':52s} {'dft':>8s} {'thresh':>7s} " + " ".join(f"{n:>9s}" for n in names))
    for key, row in rows.items():
        print(f"{key[:52]:52s} {row['dft']:8.4f} {row['threshold']:7.3f} " + " ".join(f"{row[n]:+9.4f}" for n in names))
    for n in names:
        errors = [abs(r[n]) for r in rows.values() if r["unit"] == "eV"]
        print(f"{n}: max |error| of the eV checks {max(errors):.4f} eV, mean {np.mean(errors):.4f} eV, "
              f"within threshold {sum(abs(r[n]) <= r['threshold'] for r in rows.values())}/{len(rows)}")  # fmt: skip
    print("\n## speed: energy+forces calls, atom-steps/s")
    for f in fits:
        print(f"{f['arch']:8s} one by one ({f['small_n']} frames, {f['mode']}): {f['small_atom_steps_s']:12.0f}")
        for (n_atoms, mode), value in f["large"].items():
            shown = f"{value:12.0f}" if isinstance(value, float) else value
            print(f"{f['arch']:8s} bulk cell {n_atoms:7d} atoms ({mode}): {shown}")
    if len(fits) == 2:
        a, b = fits
        print(f"ratio {b['arch']}/{a['arch']} one by one: {b['small_atom_steps_s'] / a['small_atom_steps_s']:.2f}")
        for key, value in a["large"].items():
            other = b["large"].get(key)
            if isinstance(value, float) and isinstance(other, float):
                print(f"ratio {b['arch']}/{a['arch']} bulk {key[0]} atoms ({key[1]}): {other / value:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export")
    ex.add_argument("campaign_dir", type=Path)
    ex.add_argument("report_json", type=Path)
    ex.add_argument("outdir", type=Path)
    pr = sub.add_parser("prepare")
    pr.add_argument("indir", type=Path)
    pr.add_argument("spec", type=Path)
    pr.add_argument("outdir", type=Path)
    pr.add_argument("--arch", nargs="+", default=["nequip", "allegro"])
    pr.add_argument("--allegro", type=json.loads, default={}, help="JSON updating the spec's mlip.allegro section")
    rn = sub.add_parser("run")
    rn.add_argument("indir", type=Path)
    rn.add_argument("prepared", type=Path)
    rn.add_argument("--arch", nargs="+", default=["nequip", "allegro"])
    rn.add_argument("--device", default="cuda")
    rn.add_argument("--trained", nargs="*", default=[], metavar="ARCH=PACKAGE",
                    help="use this package of the prepared config (e.g. the campaign's own fit) instead of training")
    rn.add_argument("--large-cell-reps", type=int, nargs="*", default=[20, 40])
    args = parser.parse_args()
    if args.command == "export":
        export(args.campaign_dir, args.report_json, args.outdir)
    elif args.command == "prepare":
        prepare(args.indir, args.spec, args.outdir, args.arch, args.allegro)
    else:
        run(args.indir, args.prepared, args.arch, args.device, args.large_cell_reps,
            {k: Path(v) for k, v in (t.split("=", 1) for t in args.trained)})


if __name__ == "__main__":
    main()
