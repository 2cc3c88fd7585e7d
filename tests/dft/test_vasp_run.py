"""Running the VASP label jobs with atomate2's fake run_vasp, and with real custodian on a real failed run.

The outputs are real VASP files (../shared/data/vasp, not Li): they are copied into the
reference directory at test time. The expected *inputs* of the reference directory are the
Li settings written out here by hand; atomate2's ``fake_run_vasp`` compares the job's
INCAR, KPOINTS, POSCAR and POTCAR.spec with them before "running".
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from atomate2.utils.testing.vasp import monkeypatch_vasp
from jobflow import JobStore
from maggma.stores import MemoryStore
from pymatgen.io.vasp import Incar, Kpoints, Poscar

from li_campaign.core.errors import InputError
from li_campaign.core.lithium import bcc_li_conventional
from li_campaign.dft.engine import get_engine
from li_campaign.dft.engines import LabelError
from li_campaign.schemas.spec import DftSpec
from tests.dft.vasp_data import VASP_DATA, needs_vasp_data

pytestmark = needs_vasp_data

LI = bcc_li_conventional(3.44)
EXPECTED_INCAR = {
    "GGA": "Pe", "ENCUT": 600.0, "PREC": "Accurate", "ISMEAR": 1, "SIGMA": 0.1, "EDIFF": 1e-6,
    "ISPIN": 1, "NSW": 0, "LREAL": False, "ALGO": "Normal", "NELM": 120,
}  # fmt: skip


def _reference(root: Path, output: Path) -> Path:
    """A reference directory: the expected Li inputs, and one real VASP output file as vasprun.xml."""
    (root / "inputs").mkdir(parents=True)
    (root / "outputs").mkdir()
    Incar(EXPECTED_INCAR).write_file(root / "inputs" / "INCAR")
    Kpoints.gamma_automatic((13, 13, 13)).write_file(root / "inputs" / "KPOINTS")
    Poscar(LI).write_file(root / "inputs" / "POSCAR")
    (root / "inputs" / "POTCAR.spec").write_text("Li_sv\n")
    shutil.copy(output, root / "outputs" / "vasprun.xml")
    return root


@pytest.fixture
def mock_vasp(monkeypatch, tmp_path):
    """atomate2's monkeypatch_vasp: run_vasp copies the reference outputs after checking the inputs."""
    yield from monkeypatch_vasp(monkeypatch, tmp_path / "refs")


def _static_job(name: str, dft: DftSpec | None = None):
    job = get_engine(dft or DftSpec(engine="vasp"), campaign="t", spec_hash="0" * 64).static(
        LI, "t:bulk_strain:0000", "bulk_strain", "bulk strain 0", slab=False
    )
    job.name = name
    return job


def test_inputs_checked_and_non_lithium_output_rejected(mock_vasp, tmp_path, monkeypatch):
    _reference(tmp_path / "refs" / "al", VASP_DATA / "static_smearing" / "vasprun.xml")
    mock_vasp({"li static": "al"}, {"li static": {"incar_settings": list(EXPECTED_INCAR)}})
    work = tmp_path / "run"
    work.mkdir()
    monkeypatch.chdir(work)
    job = _static_job("li static")
    # the inputs pass atomate2's checks; the (real, Al) output is then refused as a Li frame
    with pytest.raises(InputError, match=r"lithium only, got elements \['Al'\]"):
        job.run(JobStore(MemoryStore()))
    assert (work / "vasprun.xml.gz").is_file() or (work / "vasprun.xml").is_file()


def test_wrong_inputs_are_caught_by_the_fake_run(mock_vasp, tmp_path, monkeypatch):
    _reference(tmp_path / "refs" / "al", VASP_DATA / "static_smearing" / "vasprun.xml")
    mock_vasp({"li static": "al"}, {"li static": {"incar_settings": list(EXPECTED_INCAR)}})
    monkeypatch.chdir(tmp_path)
    job = _static_job("li static", DftSpec(engine="vasp", vasp={"encut_eV": 500.0}))
    with pytest.raises(LabelError, match="INCAR value of ENCUT is inconsistent: expected 600.0, got 500.0"):
        job.run(JobStore(MemoryStore()))


@pytest.mark.faults
def test_unconverged_scf_fails_the_job_with_the_parser_message(mock_vasp, tmp_path, monkeypatch):
    _reference(tmp_path / "refs" / "vo", VASP_DATA / "unconverged" / "vasprun.xml.electronic")
    mock_vasp({"li static": "vo"}, {"li static": {"check_inputs": ["potcar"]}})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LabelError, match=r"electronic SCF did not converge \(NELM = 100 reached\) at ionic step\(s\) \[4\]"):
        _static_job("li static").run(JobStore(MemoryStore()))


@pytest.mark.faults
@pytest.mark.slow
def test_custodian_gives_up_and_the_job_fails_with_its_message(tmp_path, monkeypatch):
    """Real custodian, atomate2's default handlers; the 'VASP' executable writes a real unconverged vasprun.xml."""
    fake = tmp_path / "vasp_std"
    fake.write_text(f"#!/bin/sh\ncp {VASP_DATA / 'unconverged' / 'vasprun.xml.electronic'} vasprun.xml\n")
    fake.chmod(0o755)
    work = tmp_path / "run"
    work.mkdir()
    monkeypatch.chdir(work)
    dft = DftSpec(engine="vasp", vasp={"potcar_spec": True, "vasp_cmd": str(fake), "custodian_max_errors": 1})
    with pytest.raises(LabelError, match="failed under custodian: MaxCorrectionsPerJobError") as failure:
        _static_job("li static", dft).run(JobStore(MemoryStore()))
    message = str(failure.value)
    assert "failed under custodian: MaxCorrectionsPerJobError: Max errors per job reached: 1." in message
    assert "UnconvergedErrorHandler: Unconverged" in message
    assert (work / "error.1.tar.gz").is_file()  # custodian archived the failed run before giving up


@pytest.mark.faults
def test_relaxation_frames_parsed_then_non_lithium_rejected(mock_vasp, tmp_path, monkeypatch):
    """A real 28-step relaxation (Fe2O2) runs through the relaxation Maker: parsed, strided, then refused."""
    from li_campaign.schemas.spec import RelaxTrajectorySpec

    _reference(tmp_path / "refs" / "feo", VASP_DATA / "postprocess" / "vasprun.xml")
    mock_vasp({"li relax": "feo"}, {"li relax": {"check_inputs": ["potcar"]}})
    monkeypatch.chdir(tmp_path)
    job = get_engine(DftSpec(engine="vasp")).relax(
        LI, "t:vacancy:0000", "vacancy", "vacancy 0", slab=False, relax=RelaxTrajectorySpec(stride=5)
    )
    job.name = "li relax"
    with pytest.raises(InputError, match=r"vacancy 0 step 0: li-campaign handles lithium only, got elements \['Fe', 'O'\]"):
        job.run(JobStore(MemoryStore()))
