"""bcc Li surface geometry: symmetric slabs, adsorption sites, distinct facets and stepped (vicinal) slabs.

Pure structure building on pymatgen, below everything that computes on those structures
(``bulk``, ``surfaces``, ``kinetics``) and the training-set generation (``structures``).
"""
