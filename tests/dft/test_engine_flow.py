"""One engine interface: the same spec builds VASP or GPAW/Morse label jobs; stored frames are reused."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.core import Structure

from li_campaign.dft.vasp import VaspMdLabelMaker, VaspRelaxLabelMaker, VaspStaticLabelMaker
from li_campaign.execution.reuse import expose_store
from li_campaign.flows.campaign import CampaignMaker
from li_campaign.mlip.jobs import read_frames
from li_campaign.schemas.spec import spec_from_dict
from li_campaign.structures.jobs import TrainingSetMaker
from tests.morse_reference import Morse

TRAINING_SET = {
    "bulk": {"n_strained": 2, "n_rattled": 1},
    "vacancy": None,
    "slabs": {"facets": ["110"], "n_perturbed": 1, "adatom_n_heights": 1, "min_slab_size_A": 4.0, "min_vacuum_A": 6.0,
              "adatom_min_lateral_A": 4.0},
    "eos": {"n_points": 3},
    "relax": {"max_steps": 6, "stride": 2},
    "aimd": {"temperatures_K": [300, 600], "supercell": [1, 1, 1], "n_steps": 8, "equilibration_steps": 2, "stride": 3,
             "driver": "engine"},
}  # fmt: skip


def _spec(engine: str):
    dft = {"engine": engine, "vasp": {"potcar_spec": True}}
    return spec_from_dict({"name": "t", "training_set": TRAINING_SET, "dft": dft})


def _label_jobs(spec):
    """Run the training-set job's function only (no labels): its replacement flow."""
    maker = TrainingSetMaker(training_set=spec.training_set, dft=spec.dft, campaign="t", spec_hash=spec.spec_hash())
    store = JobStore(MemoryStore())
    store.connect()
    response = expose_store(maker.make()).run(store)
    return [j for j in response.replace.jobs if j.name.startswith("dft label")]


def test_vasp_campaign_builds_vasp_label_jobs():
    spec = _spec("vasp")
    names = [job.name for job, _ in CampaignMaker(spec=spec).make().iterflow()]  # the whole campaign flow builds
    assert "fit nequip" in names and "dft bulk eos" not in names  # the ASE-engine teacher is not run with VASP
    jobs = _label_jobs(spec)
    makers = Counter(type(j.function.__self__).__name__ for j in jobs)
    # relaxed: slab, 4 adatom sites; static: 7 and the isolated atom
    assert makers == {"VaspStaticLabelMaker": 8, "VaspRelaxLabelMaker": 5, "VaspMdLabelMaker": 2}
    for job in jobs:
        maker = job.function.__self__
        incar = maker.input_set_generator.get_input_set(job.function_args[0], potcar_spec=True).incar
        assert incar["ENCUT"] == 600.0 and incar["ISMEAR"] == 1 and incar["GGA"] == "Pe"
        if isinstance(maker, VaspRelaxLabelMaker):
            assert incar["ISIF"] == 2 and incar["LDIPOL"] is True and incar["NSW"] == 6
        if isinstance(maker, VaspMdLabelMaker):
            assert incar["TEBEG"] in (300, 600) and incar["NSW"] == 8 and incar["MDALGO"] == 2
        assert maker.settings["engine"] == "vasp"
        if job.function_args[1].split(":")[1] == "isolated_atom":  # one atom in a 12 Å box: Γ only, no stress
            kpoints = maker.input_set_generator.get_input_set(job.function_args[0], potcar_spec=True).kpoints
            assert list(kpoints.kpts[0]) == [1, 1, 1] and job.function_args[0].lattice.abc == (12.0, 12.0, 12.0)
        assert isinstance(maker, (VaspStaticLabelMaker, VaspRelaxLabelMaker, VaspMdLabelMaker))
    md_labels = sorted(j.name for j in jobs if isinstance(j.function.__self__, VaspMdLabelMaker))
    assert md_labels == ["dft label md 300 K", "dft label md 600 K"]


def test_same_spec_with_gpaw_builds_ase_label_jobs():
    spec = _spec("gpaw")
    assert CampaignMaker(spec=spec).make().jobs
    makers = Counter(type(j.function.__self__).__name__ for j in _label_jobs(spec))
    assert makers == {"LabelFrameMaker": 8, "AseTrajectoryLabelMaker": 7}  # 5 relaxations (slab, 4 adatom sites), 2 MD


def test_morse_training_set_runs_and_second_run_reuses_every_frame():
    spec = _spec("morse")
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    results = []
    for _ in range(2):
        job = expose_store(
            TrainingSetMaker(training_set=spec.training_set, dft=spec.dft, campaign="t", spec_hash=spec.spec_hash()).make()
        )
        responses = run_locally(job, store=store, ensure_success=True, log=False)
        (doc,) = [r.output for runs in responses.values() for r in runs.values() if getattr(r.output, "doc_type", "") == "training_set"]
        results.append(doc)
        if len(results) == 1:
            first_run_uuids = set(responses)
            labelled = sum(1 for runs in responses.values() for r in runs.values() if getattr(r.output, "doc_type", "") in ("training_frame", "training_frames"))
    first, second = results
    # 2 strained + 1 rattled + 3 EOS + 1 perturbed slab single points, relaxation frames (steps 0, 2, 4 and the last)
    # of the slab and the adatom cells (every distinct (110) site: ontop, short and long bridge, hollow), MD frames
    # (steps 2, 5) at 300 K (aimd) and 600 K (liquid)
    assert first.counts_by_origin["bulk_eos"] == 3 and first.counts_by_origin["aimd"] == 2 and first.counts_by_origin["liquid"] == 2
    # slab: 1 perturbed + the relaxation's steps 0, 2 and its last; adatom: steps 0, 2, 4 and 6 (max_steps) per site
    assert first.counts_by_origin["slab"] == 1 + 3 and first.counts_by_origin["adatom"] == 4 * 4
    assert labelled == 15 and first.counts_by_origin["isolated_atom"] == 1
    assert second.frame_ids == first.frame_ids
    frames = read_frames(store, second.frame_ids)
    assert len(frames) == first.n_frames == 31
    (atom,) = [f for f in frames if f["origin"] == "isolated_atom"]
    assert atom["energy_eV"] == 0.0 and atom["stress_eV_A3"] is None  # Morse: no neighbour within the cutoff
    # every stored label is the Morse energy and forces of its own structure, summed independently
    morse = Morse(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=0.8 * 6.0 / 3.0, rcut2=6.0 / 3.0)  # taper 4.8–6 Å
    assert spec.dft.morse.model_dump() == {"epsilon_eV": 0.2, "r0_A": 3.0, "rho0": 3.5, "cutoff_A": 6.0}
    for f in frames:
        structure = f["structure"] if isinstance(f["structure"], Structure) else Structure.from_dict(f["structure"])
        assert f["energy_eV"] == pytest.approx(morse.structure_energy(structure), abs=1e-9), f["frame_id"]
        forces = morse.forces(structure.cart_coords, structure.lattice.matrix)
        assert np.allclose(f["forces_eV_A"], forces, atol=1e-9), f["frame_id"]
    # nothing was recomputed: every frame names a job of the first run as the one that computed it
    assert {f["provenance"]["reused_from"] for f in frames} <= first_run_uuids
    assert {f["origin"] for f in frames} == set(first.counts_by_origin)


def _production_spec():
    from li_campaign.schemas.spec import load_spec
    from tests.conftest import REPO

    return load_spec(REPO / "workflows" / "vasp_training.yaml")


def test_production_vasp_spec_builds():
    spec = _production_spec()
    assert spec.dft.engine == "vasp" and spec.training_set.aimd.driver == "engine"
    assert CampaignMaker(spec=spec).make().jobs


@pytest.mark.slow
def test_production_vasp_spec_label_jobs():
    """The full generator on the production spec (13 facets with adatoms, steps: about 40 s)."""
    jobs = _label_jobs(_production_spec())
    makers = Counter(type(j.function.__self__).__name__ for j in jobs)
    assert makers["VaspMdLabelMaker"] == 5 and makers["VaspRelaxLabelMaker"] > 13 and makers["VaspStaticLabelMaker"] > 50
    md = [j.function.__self__.input_set_generator for j in jobs if isinstance(j.function.__self__, VaspMdLabelMaker)]
    assert sorted(g.start_temp for g in md) == [150, 300, 400, 600, 900]
    origins = {j.function_args[1].split(":")[1] for j in jobs}  # frame ids <campaign>:<origin>:<index>
    assert origins == {
        "bulk_strain", "bulk_rattle", "bulk_eos", "vacancy", "divacancy", "slab", "adatom", "step", "aimd", "liquid",
        "isolated_atom",
    }  # fmt: skip


def test_label_frame_maker_reuses_a_stored_frame_under_its_new_id():
    from li_campaign.core.lithium import bcc_li_conventional
    from li_campaign.dft.jobs import LabelFrameMaker
    from li_campaign.schemas.spec import DftSpec

    store = JobStore(MemoryStore())
    maker = LabelFrameMaker(dft=DftSpec(engine="morse"), campaign="t", spec_hash="0" * 64)
    docs, uuids = [], []
    for frame_id, label in (("t:bulk_strain:0000", "first"), ("u:bulk_eos:0003", "second")):
        job = expose_store(maker.make(bcc_li_conventional(3.44), frame_id=frame_id, origin=frame_id.split(":")[1], label=label))
        docs.append(run_locally(job, store=store, ensure_success=True, log=False)[job.uuid][1].output)
        uuids.append(job.uuid)
    first, second = docs
    assert first.provenance.reused_from is None and first.provenance.calc_key
    # the second names the job that computed the label, under the same calculation key
    assert second.provenance.reused_from == uuids[0] and second.provenance.calc_key == first.provenance.calc_key
    assert (second.frame_id, second.origin, second.label) == ("u:bulk_eos:0003", "bulk_eos", "second")
    assert second.energy_eV == first.energy_eV
    other = expose_store(maker.make(bcc_li_conventional(3.44), frame_id="t:x:1", origin="bulk_strain", label="x", slab=True))
    third = run_locally(other, store=store, ensure_success=True, log=False)[other.uuid][1].output
    assert third.provenance.reused_from is None  # other settings (slab k-mesh): computed
