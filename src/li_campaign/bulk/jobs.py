"""Makers of the bulk stage: EOS lattice constant, phonons, finite temperature, vacancy, elastic constants.

Each loads the deployed model (sha256-checked), keys its calculation for reuse
(:mod:`li_campaign.execution.reuse`) and returns one document.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from jobflow import job

from li_campaign.bulk.elastic import check_own_lattice, elastic_constants_0K
from li_campaign.bulk.eos import fit_bulk_eos
from li_campaign.bulk.finite_temperature import finite_temperature_properties
from li_campaign.bulk.phonons import harmonic_phonons
from li_campaign.bulk.vacancy import vacancy_formation_energies, vacancy_migration
from li_campaign.core.errors import MdInstabilityError
from li_campaign.core.hashing import structure_hash
from li_campaign.core.lithium import bcc_li_conventional
from li_campaign.execution.maker import CalculationMaker
from li_campaign.mlip.calculator import load_model
from li_campaign.schemas.bulk import BulkDoc, ElasticDoc, FiniteTemperatureDoc, PhononDoc, VacancyDoc
from li_campaign.schemas.flags import FlaggedResultDoc
from li_campaign.schemas.models import ModelDoc
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import ElasticSpec, EosSpec, FiniteTemperatureSpec, PhononSpec, VacancySpec


@dataclass
class BulkLatticeMaker(CalculationMaker):
    """Equilibrium bcc lattice constant and ε_bulk of the model (Birch–Murnaghan E(V))."""

    name: str = "bulk lattice"
    eos: EosSpec = field(default_factory=EosSpec)
    a_guess_A: float = 3.44

    @job
    def make(self, model: ModelDoc) -> BulkDoc:
        """Return the model's :class:`BulkDoc`."""
        start = bcc_li_conventional(self.a_guess_A)
        provenance = self.provenance("bulk_eos", self.eos, structure=start, model_sha256=model.sha256)

        def compute() -> BulkDoc:
            fit = fit_bulk_eos(load_model(model), self.a_guess_A, self.eos)
            cell = bcc_li_conventional(fit["lattice_constant_A"])
            return BulkDoc(source="mlip", **fit, provenance=provenance.model_copy(update={"structure_hash": structure_hash(cell)}))

        return self.reuse_or_compute(provenance, compute)


@dataclass
class PhononMaker(CalculationMaker):
    """Harmonic phonons and thermodynamics of bcc Li at the model's lattice constant (phonopy).

    The band structure and the DOS (``band``, ``dos``) go to the large-data store.
    """

    name: str = "phonons"
    phonons: PhononSpec = field(default_factory=PhononSpec)

    @job(data=["band", "dos"])
    def make(self, model: ModelDoc, bulk: BulkDoc) -> PhononDoc:
        """Compute the phonons at ``bulk.lattice_constant_A``; return the :class:`PhononDoc`."""
        cell = bcc_li_conventional(bulk.lattice_constant_A)
        provenance = self.provenance("phonons", self.phonons, structure=cell, model_sha256=model.sha256)

        def compute() -> PhononDoc:
            result = harmonic_phonons(load_model(model), bulk.lattice_constant_A, self.phonons)
            return PhononDoc(**result, provenance=provenance)

        return self.reuse_or_compute(provenance, compute)


@dataclass
class FiniteTemperatureMaker(CalculationMaker):
    """a(T), isothermal Cij(T) and C_V of bcc Li at one temperature from MD (one job per temperature).

    The MD checkpoints go to ``<root>/checkpoints/<model sha256[:16]>-<spec hash[:8]>/``,
    where ``root`` is ``checkpoint_root`` or else the campaign directory that the workers set
    (``$LI_CAMPAIGN_DIR``), a directory every worker sees: a rerun of a job killed by the
    walltime resumes there even from a new launch directory. Without either, the job's
    working directory. The frames of every run
    (``trajectory``) go to the large-data store. A run stopped by its stability guard
    (``md.guard``) returns a :class:`~li_campaign.schemas.flags.FlaggedResultDoc` instead.
    """

    name: str = "finite temperature"
    md: FiniteTemperatureSpec = field(default_factory=FiniteTemperatureSpec)
    checkpoint_root: str = ""

    @job(data="trajectory")
    def make(self, model: ModelDoc, bulk: BulkDoc, temperature_K: float) -> FiniteTemperatureDoc:
        """Run the NPT and NVT runs at ``temperature_K`` from ``bulk.lattice_constant_A``; return the document."""
        root = self.checkpoint_root or os.environ.get("LI_CAMPAIGN_DIR", "")
        workdir = Path(root) / "checkpoints" / f"{model.sha256[:16]}-{self.spec_hash[:8]}" if root else Path.cwd()
        cell = bcc_li_conventional(bulk.lattice_constant_A)
        settings = {"md": self.md, "temperature_K": temperature_K}
        provenance = self.provenance("finite_temperature", settings, structure=cell, model_sha256=model.sha256)

        def compute() -> FiniteTemperatureDoc | FlaggedResultDoc:
            try:
                result = finite_temperature_properties(load_model(model), bulk.lattice_constant_A, temperature_K, self.md, workdir)
            except MdInstabilityError as exc:  # flagged with the reason and last good frame, not a result
                return FlaggedResultDoc.from_instability("finite_temperature", exc, provenance, temperature_K=temperature_K)
            return FiniteTemperatureDoc(**result, provenance=provenance)

        return self.reuse_or_compute(provenance, compute)


@dataclass
class VacancyMaker(CalculationMaker):
    """Vacancy formation energy converged in supercell size, and the ⟨111⟩ vacancy migration barrier (CI-NEB).

    The NEB images (``neb_images``) go to the large-data store.
    """

    name: str = "vacancy"
    vacancy: VacancySpec = field(default_factory=VacancySpec)

    @job(data=["neb_images"])
    def make(self, model: ModelDoc, bulk: BulkDoc) -> VacancyDoc:
        """Compute E_f per supercell and the migration barrier at the model's ``bulk.lattice_constant_A``."""
        check_own_lattice(bulk, "mlip", model.sha256)
        a0 = bulk.lattice_constant_A
        cell = bcc_li_conventional(a0)
        provenance = self.provenance("vacancy", self.vacancy, structure=cell, model_sha256=model.sha256)
        return self.reuse_or_compute(provenance, lambda: self._compute(model, a0, provenance))

    def _compute(self, model: ModelDoc, a0: float, provenance: Provenance) -> VacancyDoc:
        """Run the vacancy calculations at lattice constant ``a0``."""
        calc = load_model(model)
        formation = vacancy_formation_energies(calc, a0, self.vacancy)
        n_neb = self.vacancy.neb_supercell or self.vacancy.supercell_sizes[-1]
        migration = vacancy_migration(calc, a0, n_neb, self.vacancy)
        return VacancyDoc(
            lattice_constant_A=a0,
            sizes=formation["sizes"],
            formation_energy_eV=formation["formation_energy_eV"],
            formation_energy_convergence_eV=formation["convergence_eV"],
            converged=formation["converged"],
            migration_supercell=n_neb,
            hop_distance_A=migration["hop_distance_A"],
            migration_barrier_eV=migration["barrier_eV"],
            migration_barrier_reverse_eV=migration["barrier_reverse_eV"],
            neb_energies_eV=migration["image_energies_eV"],
            path_asymmetry_eV=migration["asymmetry_eV"],
            path_symmetric=migration["symmetric"],
            neb_converged=migration["converged"],
            neb_steps=migration["steps"],
            neb_images=migration["images"],
            provenance=provenance,
        )


@dataclass
class ElasticMaker(CalculationMaker):
    """0 K elastic constants C11, C12, C44 of the model at its own lattice constant (stress–strain)."""

    name: str = "elastic constants"
    elastic: ElasticSpec = field(default_factory=ElasticSpec)

    @job
    def make(self, model: ModelDoc, bulk: BulkDoc) -> ElasticDoc:
        """Strain the 2-atom cube at ``bulk.lattice_constant_A``; return the model's :class:`ElasticDoc`."""
        check_own_lattice(bulk, "mlip", model.sha256)
        cell = bcc_li_conventional(bulk.lattice_constant_A)
        provenance = self.provenance("elastic", self.elastic, structure=cell, model_sha256=model.sha256)

        def compute() -> ElasticDoc:
            result = elastic_constants_0K(load_model(model), bulk.lattice_constant_A, self.elastic)
            return ElasticDoc(source="mlip", **result, eos_bulk_modulus_GPa=bulk.bulk_modulus_GPa, provenance=provenance)

        return self.reuse_or_compute(provenance, compute)
