"""Old home of the facet-enumeration and stepped-surface Makers, kept because stored flows name it.

A job submitted before the Makers moved serializes its Maker as
``{"@module": "li_campaign.properties.surface_jobs", "@class": "StepEnergyMaker", ...}`` and its
function as ``StepEnergyMaker.make`` of this module; FireWorks workers and ``Job.from_dict``
decode them from here. New code imports from :mod:`li_campaign.surfaces.jobs`.
"""

from li_campaign.surfaces.jobs import ConvergedSurfaceEnergyMaker, StepAdsorptionMaker, StepEnergyMaker

__all__ = ["ConvergedSurfaceEnergyMaker", "StepAdsorptionMaker", "StepEnergyMaker"]
