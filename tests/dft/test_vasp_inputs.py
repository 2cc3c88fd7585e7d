"""VASP inputs (INCAR/KPOINTS/POSCAR/POTCAR.spec) written by the Li Makers, without a licence."""

from __future__ import annotations

import pytest
from atomate2.vasp.files import write_vasp_input_set
from pymatgen.io.vasp import Incar, Kpoints, Poscar

from li_campaign.core.errors import InputError
from li_campaign.core.lithium import bcc_li_conventional
from li_campaign.dft.engine import get_engine
from li_campaign.dft.engines import make_calculator
from li_campaign.geometry.slabs import adatom_slabs, make_symmetric_slab
from li_campaign.schemas.spec import AimdTrainingSpec, DftSpec, RelaxTrajectorySpec

DFT = DftSpec(engine="vasp", vasp={"potcar_spec": True})
COMMON = {"GGA": "Pe", "ENCUT": 600.0, "PREC": "Accurate", "ISMEAR": 1, "SIGMA": 0.1, "EDIFF": 1e-6, "ISPIN": 1, "LREAL": False}


def _write(job, directory, monkeypatch):
    """Write the inputs of a VASP label job the way the job does (atomate2's write_vasp_input_set)."""
    maker = job.function.__self__
    structure = job.function_args[0]
    monkeypatch.chdir(directory)
    write_vasp_input_set(structure, maker.input_set_generator, **maker.write_input_set_kwargs)
    return Incar.from_file("INCAR"), Kpoints.from_file("KPOINTS"), Poscar.from_file("POSCAR"), (directory / "POTCAR.spec").read_text().split()


def _check_common(incar):
    for key, value in COMMON.items():
        assert incar[key] == value, key
    assert "MAGMOM" not in incar and "KSPACING" not in incar


def test_bulk_static_inputs(tmp_path, monkeypatch):
    job = get_engine(DFT).static(bcc_li_conventional(3.44), "t:bulk_strain:0000", "bulk_strain", "bulk", slab=False)
    incar, kpoints, poscar, potcar = _write(job, tmp_path, monkeypatch)
    _check_common(incar)
    assert incar["NSW"] == 0 and "LDIPOL" not in incar
    assert kpoints.style == Kpoints.supported_modes.Gamma
    assert kpoints.kpts == [(13, 13, 13)]  # ceil(2π/3.44/0.15) = 13, VASP's KSPACING rule
    assert poscar.site_symbols == ["Li"] and poscar.natoms == [2]
    assert potcar == ["Li_sv"]


def test_slab_relaxation_inputs(tmp_path, monkeypatch):
    slab = make_symmetric_slab(3.44, (1, 1, 0), 6.0, 10.0)
    relax = RelaxTrajectorySpec(max_steps=30, fmax_eV_A=0.03)
    job = get_engine(DFT).relax(slab, "t:slab:0000", "slab", "slab 110", slab=True, relax=relax)
    incar, kpoints, poscar, _ = _write(job, tmp_path, monkeypatch)
    _check_common(incar)
    assert (incar["IBRION"], incar["ISIF"], incar["NSW"], incar["EDIFFG"]) == (2, 2, 30, -0.03)
    assert incar["LDIPOL"] is True and incar["IDIPOL"] == 3
    nx, ny, nz = kpoints.kpts[0]
    assert nz == 1 and nx > 1 and ny > 1
    assert poscar.natoms == [len(slab)]


def test_adatom_static_inputs(tmp_path, monkeypatch):
    slab = make_symmetric_slab(3.44, (1, 0, 0), 6.0, 10.0)
    site, cell = adatom_slabs(slab, 6.0)[0]
    job = get_engine(DFT).static(cell, "t:adatom:0000", "adatom", f"adatom {site}", slab=True)
    incar, kpoints, poscar, _ = _write(job, tmp_path, monkeypatch)
    _check_common(incar)
    assert incar["NSW"] == 0 and incar["LDIPOL"] is True and incar["IDIPOL"] == 3
    assert kpoints.kpts[0][2] == 1
    assert poscar.natoms == [len(cell)] and len(cell) % len(slab) == 1


def test_aimd_inputs(tmp_path, monkeypatch):
    aimd = AimdTrainingSpec(temperatures_K=[600.0], n_steps=300, time_step_fs=1.5, equilibration_steps=50, driver="engine")
    cell = bcc_li_conventional(3.44) * (3, 3, 3)
    job = get_engine(DFT).md(cell, "t:liquid:0000", "liquid", "md 600 K", 600.0, aimd, seed=1)
    incar, kpoints, poscar, _ = _write(job, tmp_path, monkeypatch)
    _check_common(incar)
    assert (incar["IBRION"], incar["MDALGO"], incar["ISIF"], incar["SMASS"]) == (0, 2, 2, 0.0)
    assert (incar["TEBEG"], incar["TEEND"], incar["NSW"], incar["POTIM"]) == (600.0, 600.0, 300, 1.5)
    assert incar["ISYM"] == 0
    assert kpoints.kpts == [(5, 5, 5)]  # ceil(2π/10.32/0.15)
    assert poscar.natoms == [54]
    maker = job.function.__self__
    assert {type(h).__name__ for h in maker.run_vasp_kwargs["handlers"]} >= {"VaspErrorHandler", "FrozenJobErrorHandler"}
    assert (maker.stride, maker.skip) == (aimd.stride, 50)


def test_real_potcars_need_pmg_vasp_psp_dir(tmp_path, monkeypatch):
    from pymatgen.core import SETTINGS

    monkeypatch.setitem(SETTINGS, "PMG_VASP_PSP_DIR", str(tmp_path / "no-potcars"))
    job = get_engine(DftSpec(engine="vasp")).static(bcc_li_conventional(3.44), "t:x:0", "bulk_strain", "bulk", slab=False)
    with pytest.raises((FileNotFoundError, OSError, RuntimeError), match="PMG_VASP_PSP_DIR|POTCAR"):
        _write(job, tmp_path, monkeypatch)


def test_vasp_has_no_ase_calculator():
    with pytest.raises(InputError, match="has no ASE calculator"):
        make_calculator(bcc_li_conventional(3.44), DFT)
