"""Old home of the bulk Makers and the first fan-out Makers, kept because stored flows name it.

A job submitted before the Makers moved to their domain packages serializes its Maker as
``{"@module": "li_campaign.properties.jobs", "@class": "PhononMaker", ...}`` and its function as
``PhononMaker.make`` of this module; FireWorks workers and ``Job.from_dict`` decode them from
here. New code imports from :mod:`li_campaign.bulk.jobs`, :mod:`li_campaign.surfaces.jobs` and
:mod:`li_campaign.kinetics.jobs`.
"""

from li_campaign.bulk.jobs import BulkLatticeMaker, ElasticMaker, FiniteTemperatureMaker, PhononMaker, VacancyMaker
from li_campaign.kinetics.jobs import SurfaceNebMaker
from li_campaign.surfaces.jobs import AdsorptionSiteMaker, SurfaceEnergyMaker

__all__ = [
    "AdsorptionSiteMaker",
    "BulkLatticeMaker",
    "ElasticMaker",
    "FiniteTemperatureMaker",
    "PhononMaker",
    "SurfaceEnergyMaker",
    "SurfaceNebMaker",
    "VacancyMaker",
]
