"""Train/val/test split and the nequip config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from li_campaign.mlip.dataset import split_frames
from li_campaign.mlip.nequip_config import nequip_config
from li_campaign.schemas.spec import MlipSpec


def test_split_is_disjoint_complete_and_deterministic():
    ids = [f"c:bulk:{i:04d}" for i in range(37)]
    split = split_frames(ids, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=3)
    parts = [set(split[k]) for k in ("train", "val", "test")]
    assert set.union(*parts) == set(ids)
    assert sum(map(len, parts)) == len(ids)
    assert len(split["test"]) == 4 and len(split["val"]) == 4
    assert split == split_frames(list(reversed(ids)), {"train": 0.8, "val": 0.1, "test": 0.1}, seed=3)


def test_split_needs_three_frames():
    with pytest.raises(ValueError, match="at least 3"):
        split_frames(["a", "b"], {"train": 0.8, "val": 0.1, "test": 0.1}, seed=0)


def test_config_uses_spec_and_explicit_files():
    spec = MlipSpec(num_layers=3, max_epochs=7, r_max_A=4.5)
    files = {k: Path(f"/abs/{k}.extxyz") for k in ("train", "val", "test")}
    scales = {k: {"total_energy": 0.05, "forces": 0.2, "stress": 0.003} for k in files}
    cfg = nequip_config(spec, files, scales=scales)
    assert cfg["training_module"]["model"]["num_layers"] == 3
    assert cfg["trainer"]["max_epochs"] == 7
    assert cfg["cutoff_radius"] == 4.5
    assert cfg["data"]["test_file_path"] == "/abs/test.extxyz"


def test_frame_to_atoms_reads_a_spot_check_frame_whose_adatom_has_no_flags():
    """A teacher spot-check cell: fixed bottom sites, free top sites, an adatom without selective_dynamics.

    ``AseAtomsAdaptor.get_atoms`` raised a TypeError on the ``None`` flags (found by the fidelity
    campaign's frame export); the frame reads, the fixed sites stay fixed, the adatom is free.
    """
    from ase.constraints import FixAtoms
    from pymatgen.core import Lattice, Structure

    from li_campaign.mlip.dataset import frame_to_atoms

    structure = Structure(
        Lattice.from_parameters(3.4, 3.4, 20.0, 90, 90, 90),
        ["Li"] * 3,
        [[0, 0, 0.1], [0.5, 0.5, 0.2], [0, 0, 0.3]],
        site_properties={"selective_dynamics": [[False] * 3, [True] * 3, None]},
    )
    frame = {
        "frame_id": "c:validation:0000",
        "origin": "validation",
        "structure": structure.as_dict(),
        "energy_eV": -5.0,
        "forces_eV_A": [[0.0, 0.0, 0.1], [0.0, 0.0, -0.1], [0.0, 0.0, 0.0]],
        "stress_eV_A3": None,
    }
    atoms = frame_to_atoms(frame)
    assert [c.get_indices().tolist() for c in atoms.constraints if isinstance(c, FixAtoms)] == [[0]]
    assert atoms.get_potential_energy() == -5.0
    assert atoms.info["stress_masked"]


def test_write_extxyz_keeps_the_forces_of_fixed_atoms_in_cells_with_vacuum(tmp_path):
    """A relaxation-trajectory or spot-check frame has FixAtoms; its label is the teacher's raw force.

    ``atoms.get_forces()`` applies the constraint, so the masked-stress copy wrote zeros on the
    fixed atoms: a label the energy contradicts.
    """
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.constraints import FixAtoms
    from ase.io import read

    from li_campaign.mlip.dataset import write_extxyz

    atoms = Atoms("Li2", positions=[[0, 0, 0], [0, 0, 3]], cell=[5, 5, 20], pbc=True)
    atoms.set_constraint(FixAtoms([0]))
    forces = np.array([[0.1, -0.2, 0.3], [0.0, 0.0, -0.3]])
    atoms.calc = SinglePointCalculator(atoms, energy=-3.0, forces=forces, stress=np.zeros(6))
    atoms.info["stress_masked"] = True
    back = read(write_extxyz([atoms], tmp_path / "f.extxyz"))
    np.testing.assert_allclose(back.get_forces(apply_constraint=False), forces)
    assert np.isnan(back.get_stress(voigt=True)).all()
