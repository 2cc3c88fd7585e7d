"""Teacher spot checks: the campaign's DFT engine recomputes a sample of the model's fan-out results.

:mod:`~li_campaign.validation.plan` chooses the checks and their geometries,
:mod:`~li_campaign.validation.compare` turns energies into errors and verdicts, and
:mod:`~li_campaign.validation.jobs` runs them as a stage of the campaign flow.
"""
