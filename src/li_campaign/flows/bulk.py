"""The bulk stage: 0 K elastic constants, vacancies, phonons and finite-temperature MD."""

from __future__ import annotations

from dataclasses import dataclass

from jobflow import Flow, Maker

from li_campaign.bulk.jobs import ElasticMaker, FiniteTemperatureMaker, PhononMaker, VacancyMaker
from li_campaign.dft.jobs import DftElasticMaker
from li_campaign.schemas.spec import CampaignSpec


@dataclass
class BulkPropertiesMaker(Maker):
    """Bulk properties of the deployed model: one job per calculation, one MD job per temperature.

    Parameters
    ----------
    name
        Flow name.
    spec
        The campaign spec (its ``bulk`` section and provenance fields are used).
    """

    name: str = "bulk properties"
    spec: CampaignSpec | None = None

    def make(self, model, bulk) -> Flow:
        """Return the bulk flow for ``model`` at the lattice of its ``bulk`` EOS document (or references)."""
        stage, ctx = self.spec.bulk, self.spec.provenance_context()
        jobs = [
            ElasticMaker(elastic=stage.elastic, **ctx).make(model, bulk),
            VacancyMaker(vacancy=stage.vacancy, **ctx).make(model, bulk),
            PhononMaker(phonons=stage.phonons, **ctx).make(model, bulk),
        ]
        md = FiniteTemperatureMaker(md=stage.finite_temperature, **ctx)
        for temperature in stage.finite_temperature.temperatures_K:
            job = md.make(model, bulk, temperature)
            job.name = f"finite temperature {temperature:g} K"
            jobs.append(job)
        return Flow(jobs, name=self.name)


def dft_teacher_elastic(spec: CampaignSpec, teacher_eos) -> DftElasticMaker:
    """The DFT teacher's 0 K elastic constants job, at its own lattice (``teacher_eos``: its EOS output).

    The engine and settings are the labels', except the denser k-point spacing
    ``bulk.dft_elastic_kspacing_inv_A``.
    """
    dft = spec.dft.model_copy(update={"gpaw": spec.dft.gpaw.model_copy(update={"kspacing_inv_A": spec.bulk.dft_elastic_kspacing_inv_A})})
    return DftElasticMaker(dft=dft, elastic=spec.bulk.elastic, **spec.provenance_context()).make(teacher_eos)
