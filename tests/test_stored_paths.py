"""Flows and results stored before the property domains existed still load, as the classes of the domains.

A job submitted before the Makers moved to :mod:`li_campaign.bulk`, :mod:`li_campaign.surfaces` and
:mod:`li_campaign.kinetics` names its Maker and its ``make`` under ``li_campaign.properties.jobs``,
``.surface_jobs`` or ``.kinetics_jobs`` (``@module``/``@class``, ``@callable``/``@bound``); a result
stored before the documents moved to ``schemas/<domain>.py`` names ``li_campaign.schemas.properties``.
Each test serializes the new objects as jobflow does, writes the old module path in place of the new
one, and decodes the result as a FireWorks worker or a reuse look-up would (``Flow.from_dict``,
:class:`~monty.json.MontyDecoder`). A module path monty cannot import decodes to a plain dict instead
of failing, so the tests check the type of what comes back.
"""

from __future__ import annotations

from typing import Any

import pytest
from jobflow import Flow, OutputReference
from monty.json import MontyDecoder, jsanitize
from pymatgen.core import Lattice, Structure

from li_campaign.bulk.jobs import BulkLatticeMaker, ElasticMaker, FiniteTemperatureMaker, PhononMaker, VacancyMaker
from li_campaign.kinetics.jobs import AdatomArrheniusMaker, AdatomDiffusionMDMaker, StepEdgeNebMaker, SurfaceNebMaker
from li_campaign.schemas.bulk import BulkDoc
from li_campaign.schemas.kinetics import DiffusionDoc, Hop
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.surfaces import AdsorptionDoc, AdsorptionSite
from li_campaign.surfaces.jobs import (
    AdsorptionSiteMaker,
    ConvergedSurfaceEnergyMaker,
    StepAdsorptionMaker,
    StepEnergyMaker,
    SurfaceEnergyMaker,
)

CTX = {"campaign": "stored", "spec_hash": "0" * 64}

#: Old module of each Maker -> the Makers stored under it.
OLD_MAKER_MODULES = {
    "li_campaign.properties.jobs": (
        BulkLatticeMaker, SurfaceEnergyMaker, AdsorptionSiteMaker, SurfaceNebMaker, PhononMaker,
        FiniteTemperatureMaker, VacancyMaker, ElasticMaker,
    ),
    "li_campaign.properties.surface_jobs": (ConvergedSurfaceEnergyMaker, StepEnergyMaker, StepAdsorptionMaker),
    "li_campaign.properties.kinetics_jobs": (AdatomDiffusionMDMaker, AdatomArrheniusMaker, StepEdgeNebMaker),
}  # fmt: skip
OLD_DOCUMENT_MODULE = "li_campaign.schemas.properties"
NEW_DOCUMENT_MODULES = {"li_campaign.schemas.bulk", "li_campaign.schemas.surfaces", "li_campaign.schemas.kinetics"}


def _with_module(data: Any, new: set[str], old: str) -> Any:
    """Return ``data`` with every ``@module`` in ``new`` replaced by ``old``, as stored before the move."""
    if isinstance(data, dict):
        return {
            key: old if key == "@module" and value in new else _with_module(value, new, old) for key, value in data.items()
        }
    if isinstance(data, list):
        return [_with_module(value, new, old) for value in data]
    return data


def _modules(data: Any) -> set[str]:
    """Every ``@module`` in ``data``."""
    if isinstance(data, dict):
        return {value for key, value in data.items() if key == "@module"} | {m for v in data.values() for m in _modules(v)}
    if isinstance(data, list):
        return {m for value in data for m in _modules(value)}
    return set()


@pytest.mark.parametrize("old_module", sorted(OLD_MAKER_MODULES))
def test_a_flow_stored_with_the_old_maker_modules_decodes_to_the_domain_makers(old_module):
    makers = OLD_MAKER_MODULES[old_module]
    jobs = [maker(**CTX).make(OutputReference("0" * 8)) for maker in makers]
    new_modules = {maker.__module__ for maker in makers}
    stored = _with_module(jsanitize(Flow(jobs).as_dict(), strict=True, allow_bson=True), new_modules, old_module)
    assert old_module in _modules(stored) and not new_modules & _modules(stored)  # the flow as stored before the move

    flow = Flow.from_dict(stored)
    for job, original, maker in zip(flow.jobs, jobs, makers, strict=True):
        assert type(job.maker) is maker and job.maker == original.maker
        assert job.function.__func__ is maker.make  # the worker calls the domain Maker's make
        assert job.uuid == original.uuid


def _structure() -> Structure:
    return Structure(Lattice.cubic(3.44), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _documents() -> list:
    """One stored result of each document class that ``schemas.properties`` held, nested documents included."""
    provenance = Provenance(**CTX, calc_key="k" * 64)
    site = AdsorptionSite(
        label="hollow-0", site_type="hollow", position_A=[0.0, 0.0, 10.0], adsorption_energy_eV=0.2,
        stable=True, relaxed_to="hollow-0", free_adsorption_energy_eV=0.19,
    )  # fmt: skip
    hop = Hop(
        start="hollow-0", end="hollow-0", distance_A=2.4, barrier_forward_eV=0.05, barrier_reverse_eV=0.05,
        n_images=3, converged=True, endpoint_drift_A=0.0,
    )  # fmt: skip
    return [
        BulkDoc(
            lattice_constant_A=3.44, energy_per_atom_eV=-1.9, bulk_modulus_GPa=13.0, volumes_A3_atom=[20.4],
            energies_eV_atom=[-1.9], provenance=provenance,
        ),
        AdsorptionDoc(
            facet="100", miller_index=(1, 0, 0), n_slab_atoms=2, supercell=(1, 1), slab_energy_eV=-3.0,
            bulk_energy_per_atom_eV=-1.9, sites=[site], min_adsorption_energy_eV=0.19, min_site="hollow-0",
            slab_structure=_structure(), site_copies={"hollow-0": [[0.0, 0.0, 10.0]]},
            site_heights_A={"hollow-0": 10.0}, provenance=provenance,
        ),
        DiffusionDoc(
            facet="100", miller_index=(1, 0, 0), hops=[hop], min_barrier_eV=0.05, min_hop="hollow-0->hollow-0",
            provenance=provenance,
        ),
    ]  # fmt: skip


@pytest.mark.parametrize("doc", _documents(), ids=lambda doc: type(doc).__name__)
def test_a_result_stored_with_the_old_document_module_decodes_to_the_domain_document(doc):
    stored = _with_module(jsanitize(doc, strict=True, allow_bson=True), NEW_DOCUMENT_MODULES, OLD_DOCUMENT_MODULE)
    assert stored["@module"] == OLD_DOCUMENT_MODULE  # as jobflow stored it before the move

    decoded = MontyDecoder().process_decoded(stored)
    assert type(decoded) is type(doc)
    assert decoded == doc


def test_the_old_modules_re_export_the_domain_classes_themselves():
    # not copies: a result decoded under either path is one class, and each old module keeps exactly what it held
    from li_campaign.properties import jobs, kinetics_jobs, surface_jobs
    from li_campaign.schemas import properties

    for module in (jobs, surface_jobs, kinetics_jobs):
        held = {maker.__name__: maker for maker in OLD_MAKER_MODULES[module.__name__]}
        assert {name: getattr(module, name) for name in module.__all__} == held
    assert all(getattr(properties, name).__module__ in NEW_DOCUMENT_MODULES for name in properties.__all__)


def test_a_flow_stored_before_the_spec_was_split_decodes_its_spec_sections():
    """Makers hold spec sections, stored with ``@module: li_campaign.schemas.spec`` while the spec was one module."""
    from li_campaign.mlip.jobs import FitNequipMaker
    from li_campaign.schemas import spec
    from li_campaign.schemas.spec import FacetEnumerationSpec, FanOutSpec, MlipSpec, NebSpec, RelaxSpec, SurfaceMechanismSpec

    jobs = [
        FitNequipMaker(mlip=MlipSpec(num_features=16), **CTX).make(OutputReference("0" * 8)),
        SurfaceNebMaker(
            fanout=FanOutSpec(relax=RelaxSpec(fmax_eV_A=0.03), neb=NebSpec(n_images=3)),
            mechanisms=SurfaceMechanismSpec(exchange=True),
            **CTX,
        ).make(OutputReference("1" * 8), OutputReference("2" * 8)),
    ]
    section_modules = {type(s).__module__ for s in (MlipSpec(), FanOutSpec(), SurfaceMechanismSpec(), NebSpec())}
    assert section_modules and all(m.startswith("li_campaign.schemas.spec.") for m in section_modules)
    stored = _with_module(jsanitize(Flow(jobs).as_dict(), strict=True, allow_bson=True), section_modules, "li_campaign.schemas.spec")
    assert "li_campaign.schemas.spec" in _modules(stored) and not section_modules & _modules(stored)

    flow = Flow.from_dict(stored)
    assert flow.jobs[0].maker == jobs[0].maker and type(flow.jobs[0].maker.mlip) is MlipSpec
    assert flow.jobs[1].maker == jobs[1].maker and type(flow.jobs[1].maker.fanout.neb) is NebSpec
    assert type(flow.jobs[1].maker.mechanisms) is SurfaceMechanismSpec
    # every section and helper the one module held is importable from the package, as the same object
    assert all(getattr(spec, name) is not None for name in spec.__all__) and spec.FacetEnumerationSpec is FacetEnumerationSpec


def test_the_workers_former_path_runs_the_worker():
    """Queue adapters and batch scripts written before the move call ``python -m li_campaign.db.worker``."""
    import subprocess
    import sys

    from li_campaign.db import worker as old
    from li_campaign.launch import worker

    assert old.main is worker.main
    run = subprocess.run([sys.executable, "-m", "li_campaign.db.worker", "singleshot", "a", "b"], capture_output=True, text=True)
    assert run.returncode == 2 and "one launch folder expected, got ['a', 'b']" in run.stderr
