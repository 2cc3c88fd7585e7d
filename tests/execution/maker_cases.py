"""Fixed inputs for the provenance and reuse-key regression test (tests/execution/test_maker_provenance.py).

Each case runs a Maker's ``make`` body (``make.original``, outside jobflow) with
:func:`li_campaign.execution.reuse.find_result` replaced: :func:`reuse_provenance` stops at the
look-up and returns the provenance the body keyed it with; :func:`computed` lets a cheap
calculation (the Morse engine) run and returns its document.
"""

from __future__ import annotations

import hashlib
import json
import sys
from unittest import mock

from pymatgen.core import Lattice, Structure

from li_campaign.schemas.bulk import BulkDoc
from li_campaign.schemas.models import HoldoutErrors, ModelDoc, ParityData
from li_campaign.schemas.provenance import Provenance

CAMPAIGN = "c18"
SPEC_HASH = "f" * 64
CTX = {"campaign": CAMPAIGN, "spec_hash": SPEC_HASH}
VOLATILE = {"code_version", "code_versions"}  # depend on the installed packages, not on the Maker


class _Stop(Exception):
    pass


def _stop_at_lookup(key, store=None):
    raise _Stop(sys._getframe(1).f_locals["provenance"])  # reuse_or_compute's argument


def reuse_provenance(make, *args, **kwargs) -> Provenance:
    """The provenance that the ``make`` body hands to ``reuse_or_compute`` (nothing is computed)."""
    with mock.patch("li_campaign.execution.reuse.find_result", _stop_at_lookup):
        try:
            make(*args, **kwargs)
        except _Stop as stop:
            return stop.args[0]
    raise AssertionError("make did not look up a stored result")


def computed(make, *args, **kwargs):
    """The document the ``make`` body computes when nothing is stored."""
    with mock.patch("li_campaign.execution.reuse.find_result", return_value=None):
        return make(*args, **kwargs)


def record(provenance: Provenance) -> dict:
    """The provenance's stored fields (without the package versions) and which of them were set."""
    return {"fields": provenance.model_dump(mode="json", exclude=VOLATILE), "set": sorted(provenance.model_fields_set)}


def maker_digest(maker) -> str:
    """sha256 of the Maker's serialized form (keys in order, without ``@version``)."""
    d = {k: v for k, v in maker.as_dict().items() if k != "@version"}
    return hashlib.sha256(json.dumps(d, default=str).encode()).hexdigest()


def serialized_fields(maker) -> tuple[str, ...]:
    """The fields of the Maker's serialized form, in order."""
    return tuple(k for k in maker.as_dict() if not k.startswith("@"))


def model() -> ModelDoc:
    zero = dict(n_frames=0, energy_mae_meV_atom=0, energy_rmse_meV_atom=0, force_mae_meV_A=0, force_rmse_meV_A=0)
    return ModelDoc(
        campaign=CAMPAIGN, architecture="nequip", sha256="a" * 64, deployed_path="/nonexistent.nequip.zip",
        deploy_mode="eager", package_path="/nonexistent.zip", package_sha256="b" * 64,
        split={"train": [], "val": [], "test": []}, hyperparameters={}, holdout=HoldoutErrors(**zero),
        parity=ParityData(
            dft_energy_per_atom_eV=[], mlip_energy_per_atom_eV=[],
            dft_force_components_eV_A=[], mlip_force_components_eV_A=[],
        ),
        training_wall_time_s=0, deploy_wall_time_s=0,
        provenance=Provenance(**CTX, model_sha256="a" * 64),
    )  # fmt: skip


def bulk(source: str = "mlip", dft_settings: dict | None = None) -> BulkDoc:
    return BulkDoc(
        source=source, lattice_constant_A=3.44, energy_per_atom_eV=-1.9, bulk_modulus_GPa=13.0,
        volumes_A3_atom=[20.0], energies_eV_atom=[-1.9],
        provenance=Provenance(**CTX, model_sha256="a" * 64 if source == "mlip" else None, dft_settings=dft_settings),
    )  # fmt: skip


def li_cell(a: float = 3.44) -> Structure:
    return Structure(Lattice.cubic(a), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def mlip_cases() -> dict:
    """Name -> (maker, provenance handed to reuse) for the model Makers."""
    from li_campaign.bulk.jobs import BulkLatticeMaker, ElasticMaker, FiniteTemperatureMaker, PhononMaker, VacancyMaker
    from li_campaign.kinetics.jobs import AdatomArrheniusMaker, AdatomDiffusionMDMaker, StepEdgeNebMaker, SurfaceNebMaker
    from li_campaign.schemas.kinetics import AdatomDiffusionDoc, DiffusionDoc
    from li_campaign.schemas.spec import StepSpec
    from li_campaign.schemas.surfaces import AdsorptionDoc
    from li_campaign.surfaces.jobs import (
        AdsorptionSiteMaker, ConvergedSurfaceEnergyMaker, StepAdsorptionMaker, StepEnergyMaker, SurfaceEnergyMaker,
    )  # fmt: skip

    m, b = model(), bulk()
    out = {}

    def case(name, maker, *args):
        out[name] = (maker, reuse_provenance(type(maker).make.original, maker, *args))

    case("bulk_lattice", BulkLatticeMaker(**CTX), m)
    case("surface_energy", SurfaceEnergyMaker(**CTX), m, b, (1, 1, 0))
    case("adsorption_sites", AdsorptionSiteMaker(**CTX), m, b, (1, 0, 0))
    sites = AdsorptionDoc.model_construct(
        facet="110", slab_structure=li_cell(), provenance=Provenance(**CTX, calc_key="s" * 64)
    )
    case("surface_neb", SurfaceNebMaker(**CTX), m, sites)
    case("phonons", PhononMaker(**CTX), m, b)
    case("finite_temperature", FiniteTemperatureMaker(checkpoint_root="/nonexistent", **CTX), m, b, 300.0)
    case("vacancy", VacancyMaker(**CTX), m, b)
    case("elastic", ElasticMaker(**CTX), m, b)
    case("converged_surface_energy", ConvergedSurfaceEnergyMaker(**CTX), m, b, (1, 1, 0))
    case("step_energy", StepEnergyMaker(step=StepSpec(), **CTX), m, b, (1, 1, 0))
    case("step_adsorption", StepAdsorptionMaker(step=StepSpec(), **CTX), m, b, (1, 1, 0))
    neb = DiffusionDoc.model_construct(min_barrier_eV=0.01, provenance=Provenance(**CTX, calc_key="n" * 64))
    case("adatom_diffusion_md", AdatomDiffusionMDMaker(**CTX), m, b, (1, 1, 0), 300.0, 1, neb)
    runs = [
        AdatomDiffusionDoc.model_construct(
            facet="110", n_adatoms=1, miller_index=(1, 1, 0), temperature_K=t, valid=True, diffusivity_cm2_s=1e-5,
            provenance=Provenance(**CTX, model_sha256="a" * 64, calc_key=str(t) * 16),
        )
        for t in (300.0, 400.0)
    ]  # fmt: skip
    case("adatom_arrhenius", AdatomArrheniusMaker(**CTX), [*runs, None], neb)
    upper, lower = [0.1, 0.2, 0.3], [0.4, 0.5, 0.6]
    case("step_edge_neb", StepEdgeNebMaker(**CTX), m, li_cell(), upper, lower, "110", "", None, 0.02)
    return out


def dft_cases() -> dict:
    """Name -> (maker, provenance handed to reuse, provenance of the computed document) for the DFT Makers (Morse)."""
    from li_campaign.dft.jobs import DftBulkEosMaker, DftElasticMaker, LabelFrameMaker
    from li_campaign.schemas.spec import DftSpec, ElasticSpec

    dft = DftSpec(engine="morse")
    out = {}

    def case(name, maker, *args):
        make = type(maker).make.original
        doc = computed(make, maker, *args)
        out[name] = (maker, reuse_provenance(make, maker, *args), doc.provenance)
        return doc

    case("dft_frame", LabelFrameMaker(dft=dft, **CTX), li_cell(), "c18:bulk_strain:0000", "bulk_strain", "bcc 3.44")
    slab_frame = (li_cell(3.5), "c18:slab:0001", "slab", "s", True, [4, 4, 1])
    case("dft_frame_slab_kpts", LabelFrameMaker(dft=dft, **CTX), *slab_frame)
    eos = case("dft_bulk_eos", DftBulkEosMaker(dft=dft, a_guess_A=2.8, **CTX))
    case("dft_elastic", DftElasticMaker(dft=dft, elastic=ElasticSpec(strains=[0.01]), **CTX), eos)
    return out


def fit_case() -> tuple:
    """(maker, provenance handed to reuse) of a NequIP fit on two stored frames (read_frames replaced)."""
    from li_campaign.mlip.jobs import FitNequipMaker

    frames = [
        {"frame_id": f"c18:bulk:{i:04d}", "structure": li_cell(3.4 + 0.02 * i).as_dict(),
         "provenance": {"dft_settings": {"engine": "morse"}}, "origin": "bulk"}
        for i in range(2)
    ]  # fmt: skip
    from li_campaign.schemas.frames import TrainingSetDoc

    training = TrainingSetDoc(
        campaign=CAMPAIGN, frame_ids=[f["frame_id"] for f in frames], n_frames=2, counts_by_origin={"bulk": 2},
        provenance=Provenance(**CTX),
    )
    maker = FitNequipMaker(**CTX)
    with mock.patch("li_campaign.mlip.jobs.read_frames", return_value=frames):
        return maker, reuse_provenance(FitNequipMaker.make.original, maker, training)


def capture() -> dict:
    """Everything the test compares, from the code as it is now."""
    out = {}
    for name, (maker, prov) in mlip_cases().items():
        out[name] = {"reuse": record(prov), "maker": maker_digest(maker)}
    for name, (maker, prov, stored) in dft_cases().items():
        out[name] = {"reuse": record(prov), "stored": record(stored), "maker": maker_digest(maker)}
    maker, prov = fit_case()
    out["nequip_fit"] = {"reuse": record(prov), "maker": maker_digest(maker)}
    return out


if __name__ == "__main__":
    print(json.dumps(capture(), indent=1, sort_keys=True))
