"""Which kind of worker runs which job: FireWorks categories.

Every firework carries ``spec._category``: :data:`CPU` for DFT (the training-set
generation, its labels and the DFT teacher's own checks), :data:`GPU` for MLIP training
and every job that runs the deployed model. A FireWorks worker file with
``category: cpu`` (``launchers/fworker_cpu.yaml``) only pulls DFT jobs, one with
``category: gpu`` only model jobs, and one with an empty category (the local
``li-campaign run``) pulls everything. Jobs that a job adds while it runs (jobflow
``Response(replace=...)``, e.g. the DFT labels) inherit its category.
"""

from __future__ import annotations

from jobflow import Flow, Job

CPU = "cpu"
GPU = "gpu"


def run_on(jobs: Job | Flow, category: str) -> Job | Flow:
    """Route ``jobs`` (a job or every job of a flow) to workers of ``category``; return them."""
    jobs.update_config({"manager_config": {"_category": category}})
    return jobs
