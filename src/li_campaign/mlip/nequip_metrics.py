"""Loss and metric terms for nequip-train that tolerate batches without a label.

nequip's ``ignore_nan`` drops NaN targets (the stress of cells with vacuum, written as NaN by
:func:`li_campaign.mlip.dataset.write_extxyz`), but a batch whose frames *all* lack the label
then gives ``0/0 = NaN`` for that term and a NaN loss. These metrics return 0 for such a batch
(or epoch): the term adds nothing and the other terms still train. nequip-train instantiates
them by their ``_target_`` path from the config of :mod:`li_campaign.mlip.nequip_config`.
"""

from __future__ import annotations

import torch
from nequip.train import MeanAbsoluteError, MeanSquaredError


def _mean_or_zero(metric) -> torch.Tensor:
    if int(metric.count) == 0:
        return torch.zeros((), dtype=metric.sum.dtype, device=metric.sum.device)
    return metric.sum.div(metric.count)


class MaskedMeanSquaredError(MeanSquaredError):
    """Mean squared error; 0 when every target was masked out."""

    def compute(self) -> torch.Tensor:
        """"""
        return _mean_or_zero(self)


class MaskedMeanAbsoluteError(MeanAbsoluteError):
    """Mean absolute error; 0 when every target was masked out."""

    def compute(self) -> torch.Tensor:
        """"""
        return _mean_or_zero(self)
