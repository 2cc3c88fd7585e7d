"""Slab labels carry no stress (never trained on); bulk labels do, and the training data say which."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.io import read
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.io.ase import AseAtomsAdaptor

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
