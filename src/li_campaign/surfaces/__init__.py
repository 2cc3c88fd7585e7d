"""bcc Li surfaces with any ASE calculator, and the Makers that run them with the deployed model.

``surface_energy`` (γ of one relaxed slab), ``surface_convergence`` (γ converged in thickness
and vacuum), ``adsorption`` (adatom sites and their stability), ``step_energy`` (step formation
energy, step and kink adsorption) and ``jobs`` (their Makers). The documents are in
:mod:`li_campaign.schemas.surfaces`, the slab geometry in :mod:`li_campaign.geometry`.
"""
