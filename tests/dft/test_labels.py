"""DFT labelling: k-meshes, the analytic engine, and one real GPAW PBE calculation."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from li_campaign.dft.engines import LabelError, label_atoms
from li_campaign.dft.kpoints import kmesh_from_spacing
from li_campaign.schemas.spec import DftSpec


def test_kmesh_from_spacing():
    cell = np.diag([3.44, 3.44, 20.0])
    # 2*pi/3.44 = 1.8265 1/Å -> ceil(1.8265/0.25) = 8
    assert kmesh_from_spacing(cell, 0.25) == [8, 8, 2]
    assert kmesh_from_spacing(cell, 0.25, (True, True, False)) == [8, 8, 1]


def test_morse_labels_are_complete():
    atoms = bulk("Li", "bcc", a=3.44, cubic=True)
    atoms.rattle(0.05, seed=1)
    label = label_atoms(atoms, DftSpec(engine="morse"))
    assert label.forces.shape == (2, 3)
    assert label.stress.shape == (6,)
    assert np.allclose(label.forces.sum(axis=0), 0.0, atol=1e-10)
    assert label.settings["engine"] == "morse"


@pytest.mark.slow
def test_gpaw_pbe_labels_a_two_atom_cell(tmp_path):
    """Real GPAW: bcc Li near the PBE lattice constant has small stress and zero forces."""
    atoms = bulk("Li", "bcc", a=3.44, cubic=True)
    dft = DftSpec(gpaw={"ecut_eV": 300, "kspacing_inv_A": 0.3, "smearing": "methfessel-paxton"})
    label = label_atoms(atoms, dft, workdir=tmp_path)
    assert label.settings["kpts"] == [7, 7, 7]
    assert label.settings["smearing"] == "methfessel-paxton"
    assert (tmp_path / "gpaw.txt").is_file()
    assert -2.0 < label.energy / 2 < -1.8  # GPAW PBE reference energies: about -1.9 eV/atom
    assert np.abs(label.forces).max() < 1e-3
    assert np.abs(label.stress[:3]).max() < 0.005  # |σ| < 0.8 GPa at 3.44 Å


@pytest.mark.slow
def test_gpaw_scf_failure_is_a_label_error(tmp_path):
    atoms = bulk("Li", "bcc", a=3.44, cubic=True)
    dft = DftSpec(gpaw={"kspacing_inv_A": 0.6, "max_scf_iterations": 10, "energy_convergence_eV": 1e-12})
    with pytest.raises(LabelError, match="gpaw failed"):
        label_atoms(atoms, dft, workdir=tmp_path)


def test_gpaw_trajectories_run_without_symmetry(tmp_path):
    """A relaxation or MD moves atoms off the start's symmetric positions: GPAW would stop with SymmetryBrokenError."""
    from li_campaign.dft.engines import make_calculator

    atoms = bulk("Li", "bcc", a=3.44, cubic=True)
    static, settings = make_calculator(atoms, DftSpec(), workdir=tmp_path)
    moving, moving_settings = make_calculator(atoms, DftSpec(), workdir=tmp_path, trajectory=True)
    assert "symmetry" not in settings and moving_settings["symmetry"] == "off"  # single points keep their reuse keys
    assert static.parameters.symmetry.point_group  # GPAW's default: symmetry used
    assert not moving.parameters.symmetry.point_group and not moving.parameters.symmetry.time_reversal
