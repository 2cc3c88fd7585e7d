"""Bulk bcc Li with any ASE calculator, and the Makers that run it with the deployed model.

``eos`` (Birch–Murnaghan E(V): lattice constant, ε_bulk, B), ``elastic`` (0 K C11, C12, C44),
``vacancy`` (formation energy, migration barrier), ``phonons`` (phonopy), ``finite_temperature``
(a(T), Cij(T), C_V from MD) and ``jobs`` (their Makers). The documents are in
:mod:`li_campaign.schemas.bulk`, the settings in :mod:`li_campaign.schemas.spec`.
"""
