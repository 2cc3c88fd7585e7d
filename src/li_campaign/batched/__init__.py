"""Batched execution of the fan-out on one GPU with torch-sim.

Many small relaxations, NEB images and MD runs evaluated together in one model call per step:
``loader`` (choose the model form that works on this worker and record it), ``neighbors``
(neighbour lists built for the whole batch on the model's device), ``batching`` (batch sizes
from GPU memory), ``relax``, ``md`` (the calculations), ``constraints`` (fixed atoms)
and ``executor`` (batched on GPU workers, one by one through ASE on CPU workers). Batched NEBs are
:mod:`li_campaign.properties.neb_batched`: this package sits below the property algorithms.

Examples
--------
>>> from li_campaign.batched import select_executor
>>> select_executor("cpu")
'one-by-one'
"""

from li_campaign.batched.executor import select_executor, use_batched, worker_device

__all__ = ["select_executor", "use_batched", "worker_device"]
