"""GPU detection and `--gpus` parsing on fake inputs (no GPU needed)."""

from __future__ import annotations

import pytest

from li_campaign.core.errors import InputError
from li_campaign.launch.gpus import gpus_from_cuda_visible_devices, gpus_from_nvidia_smi, select_gpus, visible_gpus

SMI = """GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0c3f2a51-aaaa-bbbb-cccc-111111111111)
GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-0c3f2a51-aaaa-bbbb-cccc-222222222222)
  MIG 3g.40gb     Device  0: (UUID: MIG-9d1b4c8e-aaaa-bbbb-cccc-333333333333)
GPU 2: NVIDIA H100 80GB HBM3 (UUID: GPU-0c3f2a51-aaaa-bbbb-cccc-444444444444)
GPU 3: NVIDIA H100 80GB HBM3 (UUID: GPU-0c3f2a51-aaaa-bbbb-cccc-555555555555)
"""


@pytest.mark.parametrize(
    ("value", "ids"),
    [("0,1,2,3", ["0", "1", "2", "3"]), ("2, 5", ["2", "5"]), ("", []), ("-1", []), ("1,-1,2", ["1"]),
     ("NoDevFiles", []), ("GPU-0c3f2a51-aaaa", ["GPU-0c3f2a51-aaaa"])],
)
def test_cuda_visible_devices_is_read_as_cuda_reads_it(value, ids):
    assert gpus_from_cuda_visible_devices(value) == ids


def test_nvidia_smi_listing_gives_whole_gpus_not_mig_instances():
    assert gpus_from_nvidia_smi(SMI) == ["0", "1", "2", "3"]
    assert gpus_from_nvidia_smi("") == []
    assert gpus_from_nvidia_smi("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.") == []


def test_cuda_visible_devices_wins_over_nvidia_smi_then_smi_then_none():
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "3,1"}, SMI) == ["3", "1"]  # SLURM's allocation
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}, SMI) == []  # hidden on purpose
    assert visible_gpus({}, SMI) == ["0", "1", "2", "3"]
    assert visible_gpus({}, "") == []  # CPU-only machine


def test_gpus_option():
    four = ["0", "1", "2", "3"]
    assert select_gpus("auto", four) == four
    assert select_gpus("auto", []) == []
    assert select_gpus("2", four) == ["0", "1"]
    assert select_gpus("0", four) == []
    assert select_gpus("0,2", four) == ["0", "2"]
    assert select_gpus(" 1 , 3 ", []) == ["1", "3"]  # explicit ids are taken as given


@pytest.mark.parametrize(
    ("option", "message"),
    [("5", "only 4 GPUs are visible"), ("-1", "must be >= 0"), ("0,0", "distinct GPU ids"), ("0,,1", "distinct GPU ids")],
)
def test_bad_gpus_option_is_a_clear_error(option, message):
    with pytest.raises(InputError, match=message):
        select_gpus(option, ["0", "1", "2", "3"])
