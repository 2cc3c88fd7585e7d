"""VASP label jobs: atomate2's Static/Relax/MD Makers whose output is training frames.

Each Maker is an atomate2 Maker (``input_set_generator``, ``write_input_set_kwargs``,
``run_vasp_kwargs`` as there) and runs VASP the atomate2 way: inputs by
``write_vasp_input_set``, the run by :func:`atomate2.vasp.run.run_vasp` under custodian
with atomate2's handlers (its default set for statics and relaxations, the MD set of
:class:`~atomate2.vasp.jobs.md.MDMaker` for MD), outputs gzipped afterwards. Only the
parsing differs: instead of a ``TaskDoc`` the job returns training frames read from
``vasprun.xml`` (:mod:`li_campaign.dft.parse`).

A calculation that custodian cannot fix raises :class:`~li_campaign.dft.engines.LabelError`
with custodian's message and the handlers' corrections, and an unconverged SCF in a kept
ionic step raises one with the parser's message, so the job fails with that reason instead
of storing a frame.

"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import atomate2.vasp.run as vasp_run
from atomate2 import SETTINGS
from atomate2.common.files import gzip_output_folder
from atomate2.utils.testing.vasp import zpath
from atomate2.vasp.files import write_vasp_input_set
from atomate2.vasp.jobs.base import _FILES_TO_ZIP
from atomate2.vasp.jobs.core import RelaxMaker, StaticMaker
from atomate2.vasp.jobs.md import MDMaker
from jobflow import job
from pymatgen.io.vasp import Incar, Kpoints, Potcar

from li_campaign.dft.engines import LabelError
from li_campaign.dft.frames import batch_doc, frame_doc, frame_key
from li_campaign.dft.parse import VaspRun, check_converged, read_vasprun, select_steps
from li_campaign.dft.vasp_sets import LiMDSetGenerator, LiRelaxSetGenerator, LiStaticSetGenerator
from li_campaign.schemas.frames import TrainingFrameBatchDoc, TrainingFrameDoc

if TYPE_CHECKING:
    from atomate2.vasp.sets.base import VaspInputGenerator
    from pymatgen.core import Structure


def custodian_summary(directory: str | Path = ".") -> str:
    """Return the corrections custodian recorded in ``custodian.json``, e.g. ``UnconvergedErrorHandler: Unconverged ×5``."""
    path = Path(directory) / "custodian.json"
    if not path.is_file():
        return "no custodian.json"
    counts: dict[str, int] = {}
    for run in json.loads(path.read_text()):
        for correction in run.get("corrections", []):
            handler = correction.get("handler", {})
            name = handler.get("@class", str(handler)) if isinstance(handler, dict) else str(handler)
            key = f"{name}: {', '.join(map(str, correction.get('errors', [])))}"
            counts[key] = counts.get(key, 0) + 1
    return "; ".join(f"{k} ×{n}" for k, n in counts.items()) or "no corrections"


def _written_inputs() -> dict:
    """INCAR, k-mesh and POTCAR symbols as written (read back before VASP or custodian change them)."""
    potcar_spec = Path("POTCAR.spec")
    if potcar_spec.is_file():
        potcar = potcar_spec.read_text().split()
    else:
        potcar = Potcar.from_file("POTCAR").symbols
    return {
        "incar": {k: v for k, v in Incar.from_file("INCAR").items()},
        "kpoints": [list(k) for k in Kpoints.from_file("KPOINTS").kpts],
        "potcar": potcar,
    }


def run_vasp_calculation(
    structure: Structure,
    input_set_generator: VaspInputGenerator,
    write_input_set_kwargs: dict,
    run_vasp_kwargs: dict,
    label: str,
) -> tuple[VaspRun, dict, float]:
    """Write the inputs, run VASP under custodian and read ``vasprun.xml`` in the working directory.

    Returns
    -------
    tuple
        The parsed run, the written inputs (:func:`_written_inputs`) and the wall time (s).

    Raises
    ------
    LabelError
        If custodian gives up (its message and corrections are in the text) or the
        vasprun.xml is missing or unreadable.
    """
    write_vasp_input_set(structure, input_set_generator, **write_input_set_kwargs)
    inputs = _written_inputs()
    start = time.perf_counter()
    try:
        vasp_run.run_vasp(**run_vasp_kwargs)
    except Exception as exc:  # custodian raises CustodianError subclasses, ValidationError, ...
        raise LabelError(
            f"VASP on {label} failed under custodian: {type(exc).__name__}: {exc} [{custodian_summary()}]"
        ) from exc
    wall = time.perf_counter() - start
    run = read_vasprun(zpath("vasprun.xml").resolve())  # absolute: errors name the file wherever they are read
    gzip_output_folder(directory=Path.cwd(), setting=SETTINGS.VASP_ZIP_FILES, files_list=_FILES_TO_ZIP)
    return run, inputs, wall


@dataclass
class VaspStaticLabelMaker(StaticMaker):
    """Single point with VASP (atomate2 StaticMaker) → one :class:`TrainingFrameDoc`.

    Parameters
    ----------
    name
        Job name.
    input_set_generator
        Usually :func:`li_campaign.dft.vasp_sets.static_set_generator`.
    settings
        Engine settings recorded on the frame (and the inputs actually written).
    campaign, spec_hash
        Provenance.
    """

    name: str = "vasp static label"
    input_set_generator: VaspInputGenerator = field(default_factory=LiStaticSetGenerator)
    settings: dict = field(default_factory=dict)
    campaign: str = ""
    spec_hash: str = ""

    @job
    def make(self, structure: Structure, frame_id: str, origin: str, label: str) -> TrainingFrameDoc:
        """Label ``structure``; fails with the reason if VASP, custodian or the SCF fail."""
        run, inputs, wall = run_vasp_calculation(
            structure, self.input_set_generator, self.write_input_set_kwargs, self.run_vasp_kwargs, label
        )
        last = run.n_steps - 1
        check_converged(run, [last])
        final = run.frames[last]
        return frame_doc(
            final.structure, final.energy_eV, final.forces, final.stress,
            frame_id=frame_id, origin=origin, label=label, engine="vasp",
            settings={**self.settings, **inputs}, wall_time_s=wall, campaign=self.campaign, spec_hash=self.spec_hash,
            calc_key=frame_key("static", structure, self.settings),
        )  # fmt: skip


@dataclass
class VaspRelaxLabelMaker(RelaxMaker):
    """Relaxation with VASP (atomate2 RelaxMaker) → every ``stride``-th ionic step and the last as frames."""

    name: str = "vasp relax label"
    input_set_generator: VaspInputGenerator = field(default_factory=LiRelaxSetGenerator)
    stride: int = 5
    settings: dict = field(default_factory=dict)
    campaign: str = ""
    spec_hash: str = ""

    @job
    def make(self, structure: Structure, frame_id: str, origin: str, label: str) -> TrainingFrameBatchDoc:
        """Relax ``structure``; an unfinished relaxation still gives its frames (they are labels, not minima)."""
        run, inputs, wall = run_vasp_calculation(
            structure, self.input_set_generator, self.write_input_set_kwargs, self.run_vasp_kwargs, label
        )
        steps = select_steps(run.n_steps, self.stride, include_last=True)
        check_converged(run, steps)
        return batch_doc(
            [run.frames[i] for i in steps], run.n_steps,
            frame_id=frame_id, origin=origin, label=label, engine="vasp", settings={**self.settings, **inputs},
            wall_time_s=wall, campaign=self.campaign, spec_hash=self.spec_hash, input_structure=structure,
            calc_key=frame_key("relax", structure, self.settings),
        )  # fmt: skip


@dataclass
class VaspMdLabelMaker(MDMaker):
    """Ab initio MD with VASP (atomate2 MDMaker and its handlers) → every ``stride``-th step after ``skip``."""

    name: str = "vasp md label"
    input_set_generator: VaspInputGenerator = field(default_factory=LiMDSetGenerator)
    stride: int = 20
    skip: int = 0
    settings: dict = field(default_factory=dict)
    campaign: str = ""
    spec_hash: str = ""

    @job
    def make(self, structure: Structure, frame_id: str, origin: str, label: str) -> TrainingFrameBatchDoc:
        """Run the MD of ``structure``; frames from the kept steps."""
        run, inputs, wall = run_vasp_calculation(
            structure, self.input_set_generator, self.write_input_set_kwargs, self.run_vasp_kwargs, label
        )
        steps = select_steps(run.n_steps, self.stride, skip=self.skip)
        check_converged(run, steps)
        return batch_doc(
            [run.frames[i] for i in steps], run.n_steps,
            frame_id=frame_id, origin=origin, label=label, engine="vasp", settings={**self.settings, **inputs},
            wall_time_s=wall, campaign=self.campaign, spec_hash=self.spec_hash, input_structure=structure,
            calc_key=frame_key("md", structure, self.settings),
        )  # fmt: skip
