"""Old home of the property Makers, kept because stored flows name its ``jobs`` modules.

The property calculations and their Makers live in their domain packages:
:mod:`li_campaign.bulk`, :mod:`li_campaign.surfaces` and :mod:`li_campaign.kinetics`
(relaxation and the MD guard they share in :mod:`li_campaign.simulation`). Jobs submitted
before the move serialize their Makers and ``make`` methods under ``li_campaign.properties.jobs``,
``.surface_jobs`` and ``.kinetics_jobs``; those three modules re-export the Makers so that
FireWorks workers and ``Job.from_dict`` still decode them. New code imports from the domains.
"""
