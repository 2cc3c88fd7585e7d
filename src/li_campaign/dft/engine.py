"""One interface to the DFT engines: the label jobs of a structure, whatever labels it.

``dft.engine`` in the campaign spec picks the implementation (:func:`get_engine`):

``gpaw`` / ``morse`` (:class:`AseEngine`)
    ASE calculators: single points by :class:`~li_campaign.dft.jobs.LabelFrameMaker`,
    relaxations and MD by :class:`~li_campaign.dft.ase_trajectory.AseTrajectoryLabelMaker`.
``vasp`` (:class:`VaspEngine`)
    atomate2 Makers under custodian (:mod:`li_campaign.dft.vasp`) with the Li input sets
    of :mod:`li_campaign.dft.vasp_sets`.

Every job returns a :class:`~li_campaign.schemas.frames.TrainingFrameDoc` (single points)
or a :class:`~li_campaign.schemas.frames.TrainingFrameBatchDoc` (relaxations, MD), so the
rest of the campaign does not know which engine ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from atomate2.vasp.jobs.md import MDMaker

from li_campaign.dft.ase_trajectory import AseTrajectoryLabelMaker
from li_campaign.dft.jobs import LabelFrameMaker, ase_engine_settings
from li_campaign.dft.vasp import VaspMdLabelMaker, VaspRelaxLabelMaker, VaspStaticLabelMaker
from li_campaign.dft.vasp_sets import md_set_generator, relax_set_generator, static_set_generator

if TYPE_CHECKING:
    from jobflow import Job
    from pymatgen.core import Structure

    from li_campaign.schemas.spec import AimdTrainingSpec, DftSpec, RelaxTrajectorySpec


def relax_settings(settings: dict, relax: RelaxTrajectorySpec) -> dict:
    """Engine settings of a relaxation: ``settings`` plus the relaxation's."""
    return {**settings, "relax": relax.model_dump(mode="json", exclude={"origins"})}


def md_settings(settings: dict, aimd: AimdTrainingSpec, temperature_K: float, seed: int | None) -> dict:
    """Engine settings of an MD run: ``settings`` plus the run's (``seed`` None where the engine draws its own)."""
    md = aimd.model_dump(mode="json", include={"n_steps", "time_step_fs", "equilibration_steps", "stride", "friction_per_fs"})
    return {**settings, "md": {**md, "temperature_K": temperature_K, "seed": seed}}


class DftEngine(Protocol):
    """What a DFT engine provides to the training-set flow."""

    name: str

    def settings(self, slab: bool, kpts=None) -> dict:
        """Everything that changes a single-point label (recorded on frames, part of the reuse key).

        ``kpts``: an explicit k-mesh in place of the k-spacing rule (commensurate slab and
        supercell meshes, :func:`li_campaign.dft.kpoints.commensurate_kmesh`), recorded as ``kpts``.
        """

    def calc_settings(
        self, calculation: str, slab: bool, relax=None, aimd=None, temperature_K=None, seed=None, kpts=None
    ) -> dict:
        """Settings (and reuse-key input) of a ``static``, ``relax`` or ``md`` calculation."""

    def static(self, structure: Structure, frame_id: str, origin: str, label: str, slab: bool, kpts=None) -> Job:
        """A single-point job returning one TrainingFrameDoc."""

    def relax(
        self, structure: Structure, frame_id: str, origin: str, label: str, slab: bool, relax: RelaxTrajectorySpec,
        kpts=None,
    ) -> Job:
        """A fixed-cell relaxation returning a TrainingFrameBatchDoc of every ``relax.stride``-th step."""

    def md(
        self, structure: Structure, frame_id: str, origin: str, label: str, temperature_K: float, aimd: AimdTrainingSpec, seed: int
    ) -> Job:
        """An NVT MD run returning a TrainingFrameBatchDoc of every ``aimd.stride``-th step after equilibration."""


@dataclass
class AseEngine:
    """GPAW or Morse through ASE."""

    dft: DftSpec
    campaign: str = ""
    spec_hash: str = ""

    @property
    def name(self) -> str:
        """``gpaw`` or ``morse``."""
        return self.dft.engine

    def settings(self, slab: bool, kpts=None) -> dict:
        """The engine's spec section, whether the cell is a slab (k-mesh) and an explicit mesh if given."""
        return ase_engine_settings(self.dft, slab, kpts)

    def calc_settings(
        self, calculation: str, slab: bool, relax=None, aimd=None, temperature_K=None, seed=None, kpts=None
    ) -> dict:
        """:meth:`settings` plus those of the relaxation or MD run (the Langevin seed included)."""
        if calculation == "relax":
            return relax_settings(self.settings(slab, kpts), relax)
        if calculation == "md":
            return md_settings(self.settings(slab, kpts), aimd, temperature_K, seed)
        return self.settings(slab, kpts)

    def static(self, structure: Structure, frame_id: str, origin: str, label: str, slab: bool, kpts=None) -> Job:
        """:class:`LabelFrameMaker` job."""
        maker = LabelFrameMaker(dft=self.dft, campaign=self.campaign, spec_hash=self.spec_hash)
        return maker.make(structure, frame_id=frame_id, origin=origin, label=label, slab=slab, kpts=kpts)

    def relax(
        self, structure: Structure, frame_id: str, origin: str, label: str, slab: bool, relax: RelaxTrajectorySpec,
        kpts=None,
    ) -> Job:
        """ASE BFGS with the engine."""
        maker = AseTrajectoryLabelMaker(
            dft=self.dft, mode="relax", n_steps=relax.max_steps, stride=relax.stride, fmax_eV_A=relax.fmax_eV_A,
            slab=slab, kpts=kpts, settings=self.calc_settings("relax", slab, relax=relax, kpts=kpts),
            campaign=self.campaign, spec_hash=self.spec_hash,
        )  # fmt: skip
        return maker.make(structure, frame_id, origin, label)

    def md(
        self, structure: Structure, frame_id: str, origin: str, label: str, temperature_K: float, aimd: AimdTrainingSpec, seed: int
    ) -> Job:
        """ASE Langevin with the engine."""
        maker = AseTrajectoryLabelMaker(
            dft=self.dft, mode="md", n_steps=aimd.n_steps, stride=aimd.stride, skip=aimd.equilibration_steps,
            temperature_K=temperature_K, time_step_fs=aimd.time_step_fs, friction_per_fs=aimd.friction_per_fs,
            seed=seed, settings=self.calc_settings("md", False, aimd=aimd, temperature_K=temperature_K, seed=seed),
            campaign=self.campaign, spec_hash=self.spec_hash,
        )  # fmt: skip
        return maker.make(structure, frame_id, origin, label)


@dataclass
class VaspEngine:
    """VASP through atomate2 and custodian."""

    dft: DftSpec
    campaign: str = ""
    spec_hash: str = ""
    name: str = "vasp"

    def settings(self, slab: bool, kpts=None) -> dict:
        """The ``vasp`` spec section (less how VASP is launched), whether the cell is a slab and an explicit mesh."""
        vasp = self.dft.vasp.model_dump(mode="json", exclude={"vasp_cmd", "custodian_max_errors", "potcar_spec"})
        settings = {"engine": "vasp", **vasp, "slab": slab}
        if kpts is not None:
            settings["kpts"] = [int(k) for k in kpts]
        return settings

    def calc_settings(
        self, calculation: str, slab: bool, relax=None, aimd=None, temperature_K=None, seed=None, kpts=None
    ) -> dict:
        """:meth:`settings` plus those of the relaxation or MD run (VASP draws its own velocities: no seed)."""
        if calculation == "relax":
            return relax_settings(self.settings(slab, kpts), relax)
        if calculation == "md":
            return md_settings(self.settings(slab, kpts), aimd, temperature_K, None)
        return self.settings(slab, kpts)

    def _kwargs(self, slab: bool, settings: dict) -> dict:
        vasp = self.dft.vasp
        run = {"max_errors": vasp.custodian_max_errors}
        if vasp.vasp_cmd:
            run.update(vasp_cmd=vasp.vasp_cmd, vasp_gamma_cmd=vasp.vasp_cmd)
        return {
            "write_input_set_kwargs": {"potcar_spec": vasp.potcar_spec},
            "run_vasp_kwargs": run,
            "settings": settings,
            "campaign": self.campaign,
            "spec_hash": self.spec_hash,
        }

    def static(self, structure: Structure, frame_id: str, origin: str, label: str, slab: bool, kpts=None) -> Job:
        """atomate2 StaticMaker job (atomate2's default custodian handlers)."""
        kwargs = self._kwargs(slab, self.calc_settings("static", slab, kpts=kpts))
        maker = VaspStaticLabelMaker(input_set_generator=static_set_generator(self.dft.vasp, slab, kpts), **kwargs)
        return maker.make(structure, frame_id, origin, label)

    def relax(
        self, structure: Structure, frame_id: str, origin: str, label: str, slab: bool, relax: RelaxTrajectorySpec,
        kpts=None,
    ) -> Job:
        """atomate2 RelaxMaker job: NSW = ``relax.max_steps``, EDIFFG = -``relax.fmax_eV_A``."""
        generator = relax_set_generator(self.dft.vasp, slab, relax.max_steps, relax.fmax_eV_A, kpts)
        kwargs = self._kwargs(slab, self.calc_settings("relax", slab, relax=relax, kpts=kpts))
        maker = VaspRelaxLabelMaker(input_set_generator=generator, stride=relax.stride, **kwargs)
        return maker.make(structure, frame_id, origin, label)

    def md(
        self, structure: Structure, frame_id: str, origin: str, label: str, temperature_K: float, aimd: AimdTrainingSpec, seed: int
    ) -> Job:
        """atomate2 MDMaker job with its MD handler set; VASP draws its own initial velocities (``seed`` unused)."""
        generator = md_set_generator(self.dft.vasp, temperature_K, aimd.n_steps, aimd.time_step_fs)
        kwargs = self._kwargs(False, self.calc_settings("md", False, aimd=aimd, temperature_K=temperature_K))
        kwargs["run_vasp_kwargs"] = {**MDMaker().run_vasp_kwargs, **kwargs["run_vasp_kwargs"]}
        maker = VaspMdLabelMaker(
            input_set_generator=generator, stride=aimd.stride, skip=aimd.equilibration_steps, **kwargs
        )
        return maker.make(structure, frame_id, origin, label)


def get_engine(dft: DftSpec, campaign: str = "", spec_hash: str = "") -> DftEngine:
    """Return the engine of ``dft.engine``."""
    if dft.engine == "vasp":
        return VaspEngine(dft, campaign, spec_hash)
    return AseEngine(dft, campaign, spec_hash)
