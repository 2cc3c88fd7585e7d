"""Broken real VASP outputs: a cut-off OUTCAR and a vasprun.xml without forces are refused, naming the file.

The files are custodian's published VASP outputs (../shared/data/vasp), copied to
``tmp_path`` and damaged there the way a killed run or a partial copy damages them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from li_campaign.dft.engines import LabelError
from li_campaign.dft.parse import read_outcar, read_vasp_output, read_vasprun
from tests.dft.test_vasp_run import _reference, _static_job, mock_vasp  # noqa: F401  (mock_vasp is a fixture)
from tests.dft.vasp_data import VASP_DATA, needs_vasp_data

pytestmark = needs_vasp_data

_FORCES = re.compile(r'<varray name="forces"\s*>.*?</varray>\s*', re.S)


def _cut(source: Path, target: Path, where: str) -> Path:
    """Write ``source`` to ``target``, cut ``mid-run`` (half its bytes) or ``before-summary`` (VASP's timing summary off)."""
    data = source.read_bytes()
    end = len(data) // 2 if where == "mid-run" else data.index(b"General timing and accounting")
    target.write_bytes(data[:end])
    return target


def _last_ionic_step_begun(outcar: Path) -> int:
    """The highest ionic step N of the ``Iteration N(k)`` headers of an OUTCAR."""
    return max(int(n) for n in re.findall(r"Iteration\s+(\d+)\(\s*\d+\)", outcar.read_text()))


@pytest.mark.parametrize("source", ["npt_nvt/OUTCAR", "postprocess/OUTCAR"])
@pytest.mark.parametrize("where", ["mid-run", "before-summary"])
def test_truncated_outcar_is_refused_naming_the_file(source, where, tmp_path):
    """Cut mid-run or just before VASP's closing summary: ASE alone would return the complete steps as a shorter run."""
    cut = _cut(VASP_DATA / source, tmp_path / "OUTCAR", where)
    begun = _last_ionic_step_begun(cut)
    expected = (
        rf"{re.escape(str(cut))}: truncated OUTCAR: VASP's closing 'General timing and accounting' summary is missing "
        rf"\(the run was cut off or the file partly copied; last ionic step begun: {begun}\); no frames stored"
    )
    with pytest.raises(LabelError, match=expected):
        read_outcar(cut)
    with pytest.raises(LabelError, match="truncated OUTCAR"):
        read_vasp_output(cut)


def test_vasprun_without_forces_is_refused_naming_the_file_and_steps(tmp_path):
    text = (VASP_DATA / "postprocess" / "vasprun.xml").read_text()
    assert len(_FORCES.findall(text)) == 28  # one forces block per ionic step
    no_forces = tmp_path / "vasprun.xml"
    no_forces.write_text(_FORCES.sub("", text))
    with pytest.raises(
        LabelError,
        match=(
            rf'{re.escape(str(no_forces))}: no forces \(<varray name="forces">\) in ionic step\(s\) '
            r"\[0, 1, 2, 3, 4, 5, 6, 7, 8, 9\] … of 28; a frame needs energy and forces, no frames stored"
        ),
    ):
        read_vasprun(no_forces)
    # only the last step's block gone: that step is named
    blocks = list(_FORCES.finditer(text))
    no_forces.write_text(text[: blocks[-1].start()] + text[blocks[-1].end() :])
    with pytest.raises(LabelError, match=r"no forces \(<varray name=\"forces\">\) in ionic step\(s\) \[27\] of 28;"):
        read_vasprun(no_forces)


def test_label_job_with_a_vasprun_without_forces_fails_and_stores_nothing(mock_vasp, campaign, tmp_path, monkeypatch):
    """The VASP static label job (atomate2's fake run_vasp copies the damaged real file) fails before any output."""
    stripped = tmp_path / "stripped.xml"
    stripped.write_text(_FORCES.sub("", (VASP_DATA / "static_smearing" / "vasprun.xml").read_text()))
    _reference(tmp_path / "refs" / "al", stripped)
    mock_vasp({"li static": "al"}, {"li static": {"check_inputs": ["potcar"]}})
    work = tmp_path / "run"
    work.mkdir()
    monkeypatch.chdir(work)
    store = campaign.job_store()
    store.connect()
    before = store.count()
    expected = rf"{re.escape(str(work / 'vasprun.xml'))}: no forces .* in ionic step\(s\) \[0, 1\] of 2;"
    with pytest.raises(LabelError, match=expected):
        _static_job("li static").run(store)
    assert store.count() == before == 0
