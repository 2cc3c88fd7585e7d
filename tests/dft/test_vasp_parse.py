"""Parsing real VASP outputs (custodian's published test files, none of them Li) into frames."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest
from ase.io import read
from ase.units import GPa

from li_campaign.core.errors import InputError
from li_campaign.dft.engines import LabelError
from li_campaign.dft.frames import frame_doc
from li_campaign.dft.parse import check_converged, read_outcar, read_vasp_output, read_vasprun, select_steps
from tests.dft.vasp_data import VASP_DATA, needs_vasp_data

pytestmark = needs_vasp_data


def test_static_vasprun_energy_forces_stress():
    run = read_vasprun(VASP_DATA / "static_smearing" / "vasprun.xml")
    assert run.n_steps == 2 and run.converged_electronic and run.nelm == 200
    last = run.frames[-1]
    assert last.structure.composition.reduced_formula == "Al"
    assert last.energy_eV == pytest.approx(-3.74599651)  # e_fr_energy of the file
    assert last.forces.shape == (1, 3)
    # VASP: -1.29096679 kBar on the diagonal (tension); ASE convention flips the sign
    assert last.stress[:3] == pytest.approx([0.129096679 * GPa] * 3)
    assert last.stress[3:] == pytest.approx([0.0, 0.0, 0.0], abs=1e-12)
    assert [f.scf_steps for f in run.frames] == [6, 8]


def test_stress_convention_matches_ase_reader():
    path = VASP_DATA / "postprocess" / "vasprun.xml"
    ours = read_vasprun(path).frames[-1]
    ase_atoms = read(path, index=-1, format="vasp-xml")
    assert ours.stress == pytest.approx(ase_atoms.get_stress(voigt=True), rel=1e-8, abs=1e-12)
    assert ours.forces == pytest.approx(ase_atoms.get_forces(), abs=1e-8)
    assert ours.energy_eV == pytest.approx(ase_atoms.get_potential_energy(force_consistent=True))


def test_relaxation_ionic_steps_and_stride():
    run = read_vasp_output(VASP_DATA / "postprocess" / "vasprun.xml")
    assert run.n_steps == 28
    assert run.frames[-1].energy_eV == pytest.approx(-28.21851457)
    assert run.frames[0].scf_steps == 40
    steps = select_steps(run.n_steps, 5, include_last=True)
    assert steps == [0, 5, 10, 15, 20, 25, 27]
    check_converged(run, steps)  # every SCF converged: no error


def test_md_frames_from_outcar():
    run = read_outcar(VASP_DATA / "npt_nvt" / "OUTCAR")
    assert run.n_steps == 10  # NSW = 10, IBRION = 0
    assert run.nelm == 500
    assert run.frames[0].structure.composition.reduced_formula == "Li7P3S11"
    assert run.frames[0].energy_eV == pytest.approx(-368.90689173)  # free energy TOTEN of step 1
    assert run.frames[-1].energy_eV == pytest.approx(-368.92647971)
    assert all(f.stress is None for f in run.frames)  # ISIF = 0: VASP computed no stress
    # the electronic steps per ionic step, counted from the "Iteration  N(  k)" headers of the OUTCAR itself
    headers = re.findall(r"Iteration\s+(\d+)\(\s*\d+\)", (VASP_DATA / "npt_nvt" / "OUTCAR").read_text())
    counts = Counter(int(n) for n in headers)
    assert [f.scf_steps for f in run.frames] == [counts[n] for n in range(1, 11)] == [13] + [4] * 9
    positions = np.array([f.structure.cart_coords for f in run.frames])
    assert np.abs(positions[-1] - positions[0]).max() > 1e-3  # the atoms moved: MD frames, not copies
    assert select_steps(run.n_steps, 3, skip=2) == [2, 5, 8]


def test_electronic_non_convergence_is_detected():
    run = read_vasprun(VASP_DATA / "unconverged" / "vasprun.xml.electronic")
    assert run.nelm == 100
    assert run.unconverged_steps == [0, 1, 2, 3, 4]
    with pytest.raises(LabelError, match=r"electronic SCF did not converge \(NELM = 100 reached\) at ionic step\(s\) \[4\]"):
        check_converged(run, [4])


def test_li_campaign_rejects_non_lithium_frames():
    for path in (VASP_DATA / "static_smearing" / "vasprun.xml", VASP_DATA / "npt_nvt" / "OUTCAR"):
        frame = read_vasp_output(path).frames[0]
        with pytest.raises(InputError, match="lithium only"):
            frame_doc(
                frame.structure, frame.energy_eV, frame.forces, np.zeros(6),
                frame_id="t:aimd:0", origin="aimd", label=path.parent.name, engine="vasp", settings={},
                wall_time_s=0.0, campaign="t", spec_hash="0" * 64,
            )  # fmt: skip


def test_missing_and_broken_files_are_label_errors(tmp_path):
    with pytest.raises(LabelError, match="no vasprun.xml"):
        read_vasprun(tmp_path / "vasprun.xml")
    truncated = tmp_path / "vasprun.xml"
    truncated.write_bytes((VASP_DATA / "static_smearing" / "vasprun.xml").read_bytes()[:5000])
    with pytest.raises(LabelError, match="unreadable vasprun.xml"):
        read_vasprun(truncated)
