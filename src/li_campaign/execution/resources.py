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

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobflow import Flow, Job

CPU = "cpu"
GPU = "gpu"


def run_on(jobs: Job | Flow, category: str) -> Job | Flow:
    """Route ``jobs`` (a job or every job of a flow) to workers of ``category``; return them.

    Other FireWorks settings of the jobs (e.g. ``_n_gpus`` from :func:`use_gpus`) are kept.
    """
    jobs.update_config({"_set": {"manager_config->_category": category}}, dict_mod=True)
    return jobs


N_GPUS_KEY = "_n_gpus"


def use_gpus(jobs: Job | Flow, n_gpus: int) -> Job | Flow:
    """Ask for ``n_gpus`` GPUs for ``jobs`` (``spec._n_gpus``); return them.

    A pinned ``li-campaign run --gpus`` gives such a firework that many GPUs of its node at
    once (all in its ``CUDA_VISIBLE_DEVICES``), and waits until they are free.
    """
    jobs.update_config({"_set": {f"manager_config->{N_GPUS_KEY}": n_gpus}}, dict_mod=True)
    return jobs
