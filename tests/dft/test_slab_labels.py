"""Slab labels carry no stress (never trained on); bulk labels do, and the training data say which."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.io import read
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from li_campaign.dft.ase_trajectory import AseTrajectoryLabelMaker
from li_campaign.dft.engines import label_atoms
from li_campaign.dft.jobs import LabelFrameMaker
from li_campaign.geometry.slabs import make_symmetric_slab
from li_campaign.mlip.dataset import frame_to_atoms, write_extxyz
from li_campaign.schemas.spec import DftSpec


def _label(structure, slab: bool) -> dict:
    job = LabelFrameMaker(dft=DftSpec(engine="morse")).make(structure, frame_id="t:x:0", origin="slab" if slab else "bulk_strain", label="x", slab=slab)
    store = JobStore(MemoryStore())
    run_locally(job, store=store, log=False, ensure_success=True)
    return store.get_output(job.uuid)


def test_a_slab_frame_has_no_stress_and_is_written_with_a_masked_one(tmp_path):
    slab = make_symmetric_slab(3.44, (1, 0, 0), 6.0, 8.0)
    cube = AseAtomsAdaptor.get_structure(bulk("Li", "bcc", a=3.40, cubic=True))
    slab_frame, bulk_frame = _label(slab, True), _label(cube, False)
    assert slab_frame["stress_eV_A3"] is None
    assert len(bulk_frame["stress_eV_A3"]) == 6 and abs(bulk_frame["stress_eV_A3"][0]) > 1e-4  # 3.40 Å: compressed

    atoms = [frame_to_atoms(slab_frame), frame_to_atoms(bulk_frame)]
    assert [a.info["stress_masked"] for a in atoms] == [True, False]
    written = read(write_extxyz(atoms, tmp_path / "frames.xyz"), index=":")
    assert np.isnan(written[0].get_stress(voigt=True)).all()
    assert written[0].get_potential_energy() == pytest.approx(slab_frame["energy_eV"], abs=1e-9)
    assert np.allclose(written[1].get_stress(voigt=True), bulk_frame["stress_eV_A3"], atol=1e-9)


def test_a_bulk_frame_without_stress_is_refused_naming_it():
    cube = AseAtomsAdaptor.get_structure(bulk("Li", "bcc", a=3.44, cubic=True))
    frame = dict(_label(cube, False), stress_eV_A3=None)
    with pytest.raises(ValueError, match=r"frame t:x:0: no stress, but its cell has no vacuum"):
        frame_to_atoms(frame)


def test_fixed_atoms_get_their_raw_forces_and_a_site_without_flags_is_free():
    """A validation cell: slab sites flagged fixed/free by selective_dynamics, the adatom without a flag (None).

    pymatgen's adaptor fails on the None flag; the label must still be made, and the forces of the fixed
    atoms must be the engine's, not the zeros that FixAtoms would report.
    """
    slab = make_symmetric_slab(3.44, (1, 0, 0), min_slab_size_A=6.0, min_vacuum_A=8.0)
    top = slab.cart_coords[:, 2].max()
    fixed = slab.cart_coords[:, 2] < slab.cart_coords[:, 2].min() + 1.0
    slab.add_site_property("selective_dynamics", [[not f] * 3 for f in fixed])
    slab.append("Li", [0.3, 0.4, top + 1.9], coords_are_cartesian=True)  # the adatom: selective_dynamics None
    assert slab.site_properties["selective_dynamics"][-1] is None and fixed.any()
    with pytest.raises(TypeError):
        AseAtomsAdaptor.get_atoms(slab)  # why the labeller does not use it
    frame = _label(slab, slab=True)
    free = AseAtomsAdaptor.get_atoms(slab.copy(site_properties={"selective_dynamics": [[True] * 3] * len(slab)}))
    reference = label_atoms(free, DftSpec(engine="morse"), slab=True, stress=False)
    forces = np.array(frame["forces_eV_A"])
    np.testing.assert_allclose(forces, reference.forces, atol=1e-12)
    assert np.abs(forces[: len(fixed)][fixed]).max() > 1e-3  # the fixed atoms' forces are not zeroed


def test_relaxation_frames_label_fixed_atoms_with_their_raw_forces():
    """The trajectory labeller relaxes with the bottom held (FixAtoms) but stores the engine's forces on every atom."""
    slab = make_symmetric_slab(3.44, (1, 0, 0), min_slab_size_A=6.0, min_vacuum_A=8.0)
    slab.perturb(0.05, min_distance=0.02, seed=3)  # off the symmetric start, so every atom feels a force
    fixed = slab.cart_coords[:, 2] < slab.cart_coords[:, 2].min() + 1.0
    slab.add_site_property("selective_dynamics", [[not f] * 3 for f in fixed])
    maker = AseTrajectoryLabelMaker(dft=DftSpec(engine="morse"), mode="relax", n_steps=3, stride=1, slab=True)
    job = maker.make(slab, frame_id="t:relax", origin="slab", label="relax")
    store = JobStore(MemoryStore())
    run_locally(job, store=store, log=False, ensure_success=True)
    frames = store.get_output(job.uuid)["frames"]
    assert len(frames) >= 2
    for frame in frames:
        structure = Structure.from_dict(frame["structure"])
        reference = label_atoms(AseAtomsAdaptor.get_atoms(structure.copy(site_properties={"selective_dynamics": [[True] * 3] * len(structure)})), DftSpec(engine="morse"), slab=True, stress=False)
        np.testing.assert_allclose(frame["forces_eV_A"], reference.forces, atol=1e-10)
        assert np.abs(np.array(frame["forces_eV_A"])[fixed]).max() > 1e-4
    first, last = (Structure.from_dict(f["structure"]).cart_coords for f in (frames[0], frames[-1]))
    assert np.abs(last[fixed] - first[fixed]).max() < 1e-12 and np.abs(last[~fixed] - first[~fixed]).max() > 1e-4
