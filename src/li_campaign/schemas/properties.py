"""Old home of the bulk, surface and NEB documents, kept because stored documents name it.

A result stored before the documents moved to their domain's module carries
``{"@module": "li_campaign.schemas.properties", "@class": "BulkDoc", ...}`` in the JobStore
(a job's output, a pack member's result); jobflow and ``reuse_or_compute`` decode it from this
module. New code imports from :mod:`li_campaign.schemas.bulk`, :mod:`li_campaign.schemas.surfaces`
and :mod:`li_campaign.schemas.kinetics`.
"""

from li_campaign.schemas.bulk import (
    BulkDoc,
    ElasticDoc,
    FiniteTemperatureConvergence,
    FiniteTemperatureDoc,
    HarmonicThermal,
    ObservableConvergence,
    PhononBand,
    PhononDoc,
    PhononDos,
    VacancyDoc,
    VacancySize,
)
from li_campaign.schemas.kinetics import DiffusionDoc, Hop
from li_campaign.schemas.surfaces import AdsorptionDoc, AdsorptionSite, SurfaceEnergyDoc

__all__ = [
    "AdsorptionDoc",
    "AdsorptionSite",
    "BulkDoc",
    "DiffusionDoc",
    "ElasticDoc",
    "FiniteTemperatureConvergence",
    "FiniteTemperatureDoc",
    "HarmonicThermal",
    "Hop",
    "ObservableConvergence",
    "PhononBand",
    "PhononDoc",
    "PhononDos",
    "SurfaceEnergyDoc",
    "VacancyDoc",
    "VacancySize",
]
