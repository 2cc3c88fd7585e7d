"""Makers of the DFT stage: label one structure, store it as a training frame."""

from __future__ import annotations

from dataclasses import dataclass, field

from jobflow import job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from li_campaign.bulk.elastic import check_own_lattice, elastic_constants_0K
from li_campaign.bulk.eos import fit_bulk_eos
from li_campaign.core.hashing import structure_hash
from li_campaign.core.lithium import check_lithium_structure
from li_campaign.core.lithium import bcc_li_conventional
from li_campaign.dft.engines import label_atoms, make_calculator
from li_campaign.execution.maker import CalculationMaker
from li_campaign.schemas.bulk import BulkDoc, ElasticDoc
from li_campaign.schemas.frames import TrainingFrameDoc
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import DftSpec, ElasticSpec, EosSpec
from li_campaign.simulation.relax import structure_to_atoms


def ase_engine_settings(dft: DftSpec, slab: bool, kpts=None) -> dict:
    """Settings that identify a GPAW/Morse label: the engine's spec section and the slab flag (k-mesh).

    An explicit k-mesh (``kpts``, e.g. a commensurate slab/supercell mesh) is added as ``kpts``;
    without one the mesh follows from the cell and the k-spacing, and the settings are unchanged.
    """
    settings = {"engine": dft.engine, **getattr(dft, dft.engine).model_dump(mode="json"), "slab": slab}
    if kpts is not None:
        settings["kpts"] = [int(k) for k in kpts]
    return settings


@dataclass
class LabelFrameMaker(CalculationMaker):
    """Label one structure with the engine of the spec (GPAW PBE or an analytic potential).

    Parameters
    ----------
    name
        Job name.
    dft
        Engine and settings; recorded on the frame.
    campaign, spec_hash
        Provenance.
    """

    name: str = "dft label"
    dft: DftSpec = field(default_factory=DftSpec)

    @job
    def make(
        self, structure: Structure, frame_id: str, origin: str, label: str, slab: bool = False, kpts: list[int] | None = None
    ) -> TrainingFrameDoc:
        """Return the :class:`TrainingFrameDoc` of ``structure``; fails (no frame) if the engine fails.

        A frame of the same structure and engine settings already in the store is reused
        (:func:`li_campaign.execution.reuse.reuse_or_compute`, kind ``dft_frame``), renamed to
        ``frame_id``/``origin``/``label``.
        """
        check_lithium_structure(structure, label)
        provenance = self.provenance("dft_frame", ase_engine_settings(self.dft, slab, kpts), structure=structure)
        update = {"frame_id": frame_id, "origin": origin, "label": label}

        def compute() -> TrainingFrameDoc:
            return self._label(structure, frame_id, origin, label, slab, provenance, kpts)

        return self.reuse_or_compute(provenance, compute, update=update)

    def _label(
        self,
        structure: Structure,
        frame_id: str,
        origin: str,
        label: str,
        slab: bool,
        provenance: Provenance,
        kpts: list[int] | None = None,
    ) -> TrainingFrameDoc:
        """Label ``structure``; the frame's provenance is ``provenance`` with the engine's settings."""
        atoms = structure_to_atoms(structure)  # a site without fixed-atom flags is free (pymatgen's adaptor fails on it)
        result = label_atoms(atoms, self.dft, slab=slab, kpts=kpts, stress=not slab)  # a slab's stress is never trained on
        return TrainingFrameDoc(
            frame_id=frame_id,
            origin=origin,
            label=label,
            structure=structure.as_dict(),
            n_atoms=len(structure),
            energy_eV=result.energy,
            energy_per_atom_eV=result.energy / len(structure),
            forces_eV_A=result.forces.tolist(),
            stress_eV_A3=None if result.stress is None else result.stress.tolist(),
            engine=self.dft.engine,
            wall_time_s=result.wall_time_s,
            provenance=provenance.model_copy(update={"dft_settings": result.settings}),
        )


@dataclass
class DftBulkEosMaker(CalculationMaker):
    """The DFT teacher's own bcc equation of state (same engine and settings as the labels).

    The report sets the model's lattice constant beside this one.
    """

    name: str = "dft bulk eos"
    dft: DftSpec = field(default_factory=DftSpec)
    eos: EosSpec = field(default_factory=EosSpec)
    a_guess_A: float = 3.44

    @job
    def make(self) -> BulkDoc:
        """Fit Birch–Murnaghan to DFT energies of the 2-atom cubic cell."""
        start = bcc_li_conventional(self.a_guess_A)
        calc, settings = make_calculator(AseAtomsAdaptor.get_atoms(start), self.dft)
        provenance = self.provenance(
            "dft_bulk_eos", {"dft": settings, "eos": self.eos}, structure=start, dft_settings=settings
        )

        def compute() -> BulkDoc:
            fit = fit_bulk_eos(calc, self.a_guess_A, self.eos)
            cell = bcc_li_conventional(fit["lattice_constant_A"])
            return BulkDoc(source="dft", **fit, provenance=provenance.model_copy(update={"structure_hash": structure_hash(cell)}))

        return self.reuse_or_compute(provenance, compute)


@dataclass
class DftElasticMaker(CalculationMaker):
    """The DFT teacher's 0 K elastic constants at its own lattice constant (same engine and settings as the labels).

    Chain it after :class:`DftBulkEosMaker`::

        eos = DftBulkEosMaker(dft=dft).make()
        elastic = DftElasticMaker(dft=dft).make(eos.output)

    The k-mesh is built once for the unstrained cube and kept for every strained cell, so
    all stresses share one mesh. The stresses are the engine's own (GPAW's analytic
    plane-wave stress, checked against dE/dε of its free energy). ``dft`` must match the
    EOS settings except the k-spacing, which should be denser: measured with GPAW PBE,
    300 eV, Methfessel–Paxton 0.1 eV at a = 3.43 Å, the k-spacing of the labels
    (0.3 1/Å, 7³ k-points) gives C11 ≈ −10 GPa (from the energies as well as the
    stresses: Fermi-surface sampling error), 0.15 (13³) gives C11 ≈ 22, C12 ≈ 11 GPa and
    0.1 (22³) gives C11 ≈ 17, C12 ≈ 13 GPa (PBE literature ≈ 15, 13).
    """

    name: str = "dft elastic constants"
    dft: DftSpec = field(default_factory=DftSpec)
    elastic: ElasticSpec = field(default_factory=ElasticSpec)

    @job
    def make(self, bulk: BulkDoc) -> ElasticDoc:
        """Strain the 2-atom cube at the teacher's ``bulk.lattice_constant_A`` (a BulkDoc of source "dft")."""
        cell = bcc_li_conventional(bulk.lattice_constant_A)
        calc, settings = make_calculator(AseAtomsAdaptor.get_atoms(cell), self.dft)
        check_own_lattice(bulk, "dft", dft_settings=settings)
        provenance = self.provenance(
            "dft_elastic", {"dft": settings, "elastic": self.elastic}, structure=cell, dft_settings=settings
        )

        def compute() -> ElasticDoc:
            result = elastic_constants_0K(calc, bulk.lattice_constant_A, self.elastic)
            return ElasticDoc(source="dft", **result, eos_bulk_modulus_GPa=bulk.bulk_modulus_GPa, provenance=provenance)

        return self.reuse_or_compute(provenance, compute)
