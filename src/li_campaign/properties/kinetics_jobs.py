"""Old home of the adatom-MD and step-edge Makers, kept because stored flows name it.

A job submitted before the Makers moved serializes its Maker as
``{"@module": "li_campaign.properties.kinetics_jobs", "@class": "StepEdgeNebMaker", ...}`` and
its function as ``StepEdgeNebMaker.make`` of this module; FireWorks workers and ``Job.from_dict``
decode them from here. New code imports from :mod:`li_campaign.kinetics.jobs`.
"""

from li_campaign.kinetics.jobs import AdatomArrheniusMaker, AdatomDiffusionMDMaker, StepEdgeNebMaker

__all__ = ["AdatomArrheniusMaker", "AdatomDiffusionMDMaker", "StepEdgeNebMaker"]
