"""The one registry of result types: where each result is stored, indexed, built, checked and reported.

Every derived collection of a campaign is declared here once, as a :class:`ResultType`:
its name and key, the job-output documents it is built from, whether those carry the hash
of their input structure, its query indexes, its maggma builder and the fields the report
copies from it. Everything that used to keep its own list reads this one:

* :meth:`li_campaign.db.config.Campaign.derived_store` (collection name -> key),
* :data:`li_campaign.db.indexes.INDEXES` (``li-campaign db init``),
* :func:`li_campaign.db.verify.verify_campaign` (:data:`STRUCTURE_HASH_DOC_TYPES`, and the
  derived collections whose documents are size-checked),
* :func:`li_campaign.builders.all_builders` (``li-campaign build`` and ``workflows/builders.py``),
* :mod:`li_campaign.report` (:attr:`ResultType.report_fields`).

Written by hand: neither jobflow nor maggma keeps a catalogue of a project's result
collections. This module imports no other part of li_campaign, so ``db`` and ``schemas``
can read it without importing maggma or pymatgen; builders are named by import path and
imported only by :meth:`ResultType.builder_class`.

Examples
--------
>>> result_type("step_energies").doc_types
('step_energy',)
>>> "step_energy" in STRUCTURE_HASH_DOC_TYPES
True
>>> [result.collection for result in RESULT_TYPES][-4:]
['facet_summary', 'bep_regression', 'wulff_shape', 'bulk_properties']
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from maggma.core import Builder

FLAGGED_DOC_TYPE = "flagged"
"""``doc_type`` of a flagged result (:mod:`li_campaign.schemas.flags`). It stands in for the result named by
its ``result_doc_type``: it enters no derived collection, and ``db verify`` checks it as that result."""

EFFECTIVE_BARRIER_FIELDS = (
    "effective_barrier_eV",
    "effective_barrier_by_direction_eV",
    "effective_path",
    "effective_mechanism",
    "percolates",
    "hop_cutoff_A",
)
"""The :class:`~li_campaign.schemas.kinetics.DiffusionDoc` fields of the effective (long-range transport)
barrier, as the builders copy them into ``diffusion_barriers`` and ``facet_summary``."""

BEP_FIT_FIELDS = ("slope", "slope_stderr", "intercept", "intercept_stderr", "r2", "ci95", "p_value", "spearman")
"""The numbers of a BEP fit in ``bep_regression`` (None when there is no fit)."""

LARGE_CELL_FIELDS = (
    "facet",
    "temperature_K",
    "n_atoms",
    "n_adatoms",
    "n_valid",
    "excluded",
    "adatom_spacing_A",
    "receptive_field_A",
    "diffusivity_cm2_s",
    "diffusivity_err_cm2_s",
    "n_hops",
    "valid",
    "invalid_reasons",
    "production_steps",
    "timestep_fs",
    "engine",
    "device",
    "atom_steps_per_s",
    "wall_time_per_ns_s",
)
"""The fields of a large-cell run (:class:`~li_campaign.schemas.kinetics.LargeCellDiffusionDoc`) that the
``adatom_diffusion`` collection holds and the report copies (``diffusivity_large_cell``)."""

VALIDATION_COUNTS = ("n_checks", "n_passed", "n_failed", "n_refused", "n_skipped")
"""The check counts of a teacher spot-check run, as ``validation``, the BEP document and the report copy them."""


@dataclass(frozen=True)
class ResultType:
    """One derived collection and everything the campaign does with it.

    Parameters
    ----------
    collection
        Name of the derived collection the builder writes.
    key
        Field that identifies a document of the collection (unique index, maggma store key).
    builder
        Import path of the maggma builder class that writes the collection,
        ``"package.module.ClassName"``.
    doc_types
        ``doc_type`` of the job outputs the result is made from, the map builder's ``doc_type``
        first (a further one is another document of the same result that ``db verify`` checks
        too: a batch of training frames). Empty for a builder that joins derived collections.
    structure_hash
        Whether the job outputs of ``doc_types`` carry the hash of their input structure in
        ``provenance.structure_hash``; ``db verify`` reports those without a valid one.
    sources
        Derived collections a joining builder reads, in the order of its positional
        arguments (the target follows them). Empty: the builder maps job outputs (the
        JobStore is its one source).
    optional_sources
        Derived collections a joining builder reads if given, passed as keyword arguments
        named after the collection.
    indexes
        Fields that readers filter or sort on, one tuple per compound index (the unique
        ``key`` and ``last_updated`` are indexed on every collection).
    report_fields
        Fields the report copies from a document of the collection (empty if the report
        reads none by a fixed list).
    """

    collection: str
    key: str
    builder: str
    doc_types: tuple[str, ...] = ()
    structure_hash: bool = False
    sources: tuple[str, ...] = ()
    optional_sources: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()
    report_fields: tuple[str, ...] = ()

    @property
    def maps_job_outputs(self) -> bool:
        """True if the builder maps job outputs (a ``JobOutputMapBuilder``), False if it joins derived collections."""
        return not self.sources

    def reported(self, doc: Mapping[str, Any] | None) -> dict[str, Any]:
        """Return the :attr:`report_fields` of one document of the collection.

        Parameters
        ----------
        doc
            A document of :attr:`collection`, or None.

        Returns
        -------
        dict
            Field -> value, in :attr:`report_fields` order; None for a field the document
            lacks (every field, when ``doc`` is None).
        """
        return {field: (doc or {}).get(field) for field in self.report_fields}

    def builder_class(self) -> type[Builder]:
        """Import and return the builder class.

        Raises
        ------
        ImportError
            If the module of :attr:`builder` cannot be imported.
        AttributeError
            If the module has no such class.
        """
        module, _, name = self.builder.rpartition(".")
        return getattr(importlib.import_module(module), name)


_FACET = (("model_sha256", "facet"),)
_MODEL = (("model_sha256",),)

#: Every result type, in build order: a builder comes after the builders of its sources.
RESULT_TYPES: tuple[ResultType, ...] = (
    ResultType(
        "training_frames",
        key="frame_id",
        builder="li_campaign.dft.builders.TrainingFrameBuilder",
        doc_types=("training_frame", "training_frames"),
        structure_hash=True,
        indexes=(("origin",), ("structure_hash",), ("campaign", "spec_hash")),
    ),
    ResultType(
        "models",
        key="sha256",
        builder="li_campaign.mlip.builders.ModelRegistryBuilder",
        doc_types=("model",),
        indexes=(("completed_at",), ("campaign", "spec_hash")),
        report_fields=(
            "sha256",
            "campaign",
            "architecture",
            "deploy_mode",
            "compile_target",
            "n_parameters",
            "deployed_path",
            "energy_mae_meV_atom",
            "energy_rmse_meV_atom",
            "force_mae_meV_A",
            "force_rmse_meV_A",
            "stress_mae_meV_A3",
            "n_train",
            "n_val",
            "n_test",
            "adsorption_label_errors_by_facet",
            "completed_at",
        ),
    ),
    ResultType(
        "bulk",
        key="uuid",
        builder="li_campaign.bulk.builders.BulkBuilder",
        doc_types=("bulk",),
        structure_hash=True,
        indexes=(("model_sha256", "source"),),
        report_fields=("lattice_constant_A", "energy_per_atom_eV", "bulk_modulus_GPa"),
    ),
    ResultType(
        "surface_energies",
        key="uuid",
        builder="li_campaign.surfaces.builders.SurfaceEnergyBuilder",
        doc_types=("surface_energy",),
        structure_hash=True,
        indexes=_FACET,
    ),
    ResultType(
        "adsorption_energies",
        key="uuid",
        builder="li_campaign.surfaces.builders.AdsorptionEnergyBuilder",
        doc_types=("adsorption",),
        structure_hash=True,
        indexes=_FACET,
    ),
    ResultType(
        "diffusion_barriers",
        key="uuid",
        builder="li_campaign.kinetics.builders.DiffusionBarrierBuilder",
        doc_types=("diffusion",),
        structure_hash=True,
        indexes=_FACET,
    ),
    ResultType(
        "step_energies",
        key="uuid",
        builder="li_campaign.surfaces.builders.StepEnergyBuilder",
        doc_types=("step_energy",),
        structure_hash=True,
        indexes=_FACET,
    ),
    ResultType(
        "step_adsorption",
        key="uuid",
        builder="li_campaign.surfaces.builders.StepAdsorptionBuilder",
        doc_types=("step_adsorption",),
        structure_hash=True,
        indexes=_FACET,
    ),
    ResultType(
        "step_edge_barriers",
        key="uuid",
        builder="li_campaign.kinetics.builders.StepEdgeBarrierBuilder",
        doc_types=("step_edge_diffusion",),
        structure_hash=True,
        indexes=_FACET,
        report_fields=("step_edge_barrier_eV", "step_edge_mechanism", "terrace_barrier_eV", "es_barrier_eV"),
    ),
    ResultType(
        "adatom_diffusion",
        key="uuid",
        builder="li_campaign.kinetics.builders.AdatomDiffusionBuilder",
        # AdatomDiffusionDoc (small cell) and LargeCellDiffusionDoc (``cell`` "large"): one doc_type, one collection
        doc_types=("adatom_diffusion",),
        structure_hash=True,
        indexes=(*_FACET, ("model_sha256", "cell", "facet", "temperature_K")),
        report_fields=LARGE_CELL_FIELDS,
    ),
    ResultType(
        "adatom_arrhenius",
        key="uuid",
        builder="li_campaign.kinetics.builders.AdatomArrheniusBuilder",
        doc_types=("adatom_arrhenius",),  # a fit over MD runs: no input structure of its own
        indexes=_FACET,
        report_fields=(
            "activation_energy_eV",
            "prefactor_cm2_s",
            "r2",
            "n",
            "temperatures_K",
            "diffusivities_cm2_s",
            "neb_min_barrier_eV",
            "neb_effective_barrier_eV",
            "activation_minus_neb_eV",
            "excluded",
        ),
    ),
    ResultType(
        "vacancies",
        key="uuid",
        builder="li_campaign.bulk.builders.VacancyBuilder",
        doc_types=("vacancy",),
        structure_hash=True,
        indexes=_MODEL,
    ),
    ResultType(
        "phonons",
        key="uuid",
        builder="li_campaign.bulk.builders.PhononBuilder",
        doc_types=("phonons",),
        structure_hash=True,
        indexes=_MODEL,
    ),
    ResultType(
        "finite_temperature",
        key="uuid",
        builder="li_campaign.bulk.builders.FiniteTemperatureBuilder",
        doc_types=("finite_temperature",),
        structure_hash=True,
        indexes=(("model_sha256", "temperature_K"),),
    ),
    ResultType(
        "elastic_constants",
        key="uuid",
        builder="li_campaign.bulk.builders.ElasticBuilder",
        doc_types=("elastic",),
        structure_hash=True,
        indexes=(("model_sha256", "source"), ("campaign", "source")),
    ),
    ResultType(
        "active_learning",
        key="iteration_id",
        builder="li_campaign.active.builders.ActiveLearningBuilder",
        doc_types=("active_learning_iteration",),
        indexes=(("campaign",),),
        report_fields=(
            "iteration",
            "committee_id",
            "member_sha256s",
            "n_training_frames",
            "n_holdout_frames",
            "force_mae_meV_A",
            "force_rmse_meV_A",
            "energy_mae_meV_atom",
            "energy_rmse_meV_atom",
            "n_explored",
            "n_accurate",
            "n_candidates",
            "n_failed",
            "accurate_fraction",
            "candidate_fraction",
            "failed_fraction",
            "candidates_by_origin",
            "failed_by_origin",
            "n_selected",
            "selected_origins",
            "median_force_std_eV_A",
            "trust_lower_eV_A",
            "trust_upper_eV_A",
            "converged",
            "stop_reason",
            "exploration_wall_time_s",
            "n_fanout_frames",
            "spot_checks_passed",
            "spot_check_max_abs_error",
        ),
    ),
    ResultType(
        "validation",
        key="uuid",
        builder="li_campaign.validation.builders.ValidationBuilder",
        doc_types=("validation",),
        indexes=_MODEL,
        report_fields=("engine", *VALIDATION_COUNTS, "thresholds", "refused_frames", "notes"),
    ),
    ResultType(
        "facet_summary",
        key="summary_id",
        builder="li_campaign.builders.summary.FacetSummaryBuilder",
        sources=("surface_energies", "adsorption_energies", "diffusion_barriers", "bulk"),
        optional_sources=("adatom_diffusion", "step_energies"),
        indexes=_FACET,
        report_fields=(
            "facet",
            "miller_index",
            "surface_energy_J_m2",
            "min_adsorption_energy_eV",
            "min_site",
            "min_adsorption_basis",
            "min_pinned_adsorption_energy_eV",
            *EFFECTIVE_BARRIER_FIELDS,
            "min_barrier_eV",
            "min_hop",
            "min_mechanism",
            "invalid_hops",
            "step_energy_eV_per_A",
            "diffusivity_cm2_s",
        ),
    ),
    ResultType(
        "bep_regression",
        key="regression_id",
        builder="li_campaign.builders.summary.BepRegressionBuilder",
        sources=("facet_summary",),
        optional_sources=("validation",),
        indexes=_MODEL,
        report_fields=(*BEP_FIT_FIELDS, "n", "facets", "mechanisms", "points", "excluded", "reason", "validated"),
    ),
    ResultType(
        "wulff_shape",
        key="wulff_id",
        builder="li_campaign.builders.summary.WulffShapeBuilder",
        sources=("facet_summary",),
        indexes=_MODEL,
        report_fields=(
            "facets",
            "miller_indices",
            "surface_energies_J_m2",
            "lattice_constant_A",
            "area_fractions",
            "weighted_surface_energy_J_m2",
            "shape_factor",
            "anisotropy",
            "reason",
        ),
    ),
    ResultType(
        "bulk_properties",
        key="model_sha256",
        builder="li_campaign.bulk.builders.BulkPropertiesBuilder",
        sources=("bulk", "vacancies", "phonons", "finite_temperature", "elastic_constants"),
        indexes=(("campaign",),),
    ),
)

_BY_COLLECTION = {result.collection: result for result in RESULT_TYPES}

STRUCTURE_HASH_DOC_TYPES = frozenset(
    doc_type for result in RESULT_TYPES if result.structure_hash for doc_type in result.doc_types
)
"""``doc_type`` of every job output computed on one input structure: it must carry the structure's hash."""


def result_type(collection: str) -> ResultType:
    """Return the registered result type of a derived collection.

    Parameters
    ----------
    collection
        A derived collection name, e.g. ``"facet_summary"``.

    Raises
    ------
    KeyError
        If no result type writes that collection; the message lists the known ones.
    """
    try:
        return _BY_COLLECTION[collection]
    except KeyError:
        raise KeyError(f"unknown derived collection {collection!r}; known: {sorted(_BY_COLLECTION)}") from None
