"""Li adatom surface kinetics with any ASE calculator, and the Makers that run it with the deployed model.

``site_graph`` (the periodic graph of adsorption sites and hops), ``neb`` (CI-NEB bands and
their image-count convergence), ``exchange`` (exchange paths), ``diffusion`` (a facet's hop
and exchange barriers, effective barrier), ``step_edges`` (descending a step: the
Ehrlich–Schwoebel barrier), ``md_diffusion`` (adatom MD, hop counting, Arrhenius) and ``jobs``
(their Makers). The documents are in :mod:`li_campaign.schemas.kinetics`.
"""
