"""Running an ASE calculator, shared by the property domains: relaxation and the MD stability guard.

``relax`` (pymatgen/ASE conversion and :func:`~li_campaign.simulation.relax.relax_atoms`) and
``md_guard`` (:class:`~li_campaign.simulation.md_guard.MdGuard`, the limits an MD run must stay
within). No property logic and no jobs: :mod:`li_campaign.bulk`, :mod:`li_campaign.surfaces`
and :mod:`li_campaign.kinetics` build on it.
"""
