"""Active learning: committee force disagreement decides which configurations get DFT labels.

``committee`` (σ of a committee of ASE calculators), ``descriptors`` (distance histograms),
``selection`` (trust levels, farthest-point sampling, convergence), ``explore`` (MD,
relaxations and adatom hops driven by one member) and ``jobs`` (the dynamic loop:
:class:`~li_campaign.active.jobs.ActiveLearningMaker`).
"""
