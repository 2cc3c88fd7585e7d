"""Batched execution of the fan-out on one GPU with torch-sim.

Many small relaxations, NEB images and MD runs evaluated together in one model call per step:
``loader`` (choose the model form that works on this worker and record it), ``neighbors``
(neighbour lists built for the whole batch on the model's device), ``state`` and ``batching``
(structures into one torch-sim state, batch sizes from GPU memory, the batched model call),
``dispatch`` (the ASE calculations of a fan-out pack, their model calls evaluated together)
and ``executor`` (batched on GPU workers, one by one through ASE on CPU workers). The
torch-native relaxation and NEB drivers that the benchmarks compare against are
``benchmarks/batched_extras.py``, outside the package.

Examples
--------
>>> from li_campaign.batched import select_executor
>>> select_executor("cpu")
'one-by-one'
"""

from li_campaign.batched.executor import select_executor, use_batched, worker_device

__all__ = ["select_executor", "use_batched", "worker_device"]
