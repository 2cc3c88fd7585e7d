"""A batched neighbour list on the model's device, registered as a nequip neighbour-list backend.

nequip 0.19's stock backends (``matscipy``, ``vesin``, ``ase``) build the list on the CPU one
frame at a time in a Python loop, which caps torch-sim batches at about 30 k atom-steps/s on
an H100 (../shared/notes/gpu_anchor.md); its only batched GPU backend (``alchemiops``) needs
NVIDIA's ``nvalchemiops``. torch-sim 0.3.0's ``torch_nl_n2`` / ``torch_nl_linked_cell`` also
loop over systems. So this module is written by hand: all frames of a batch are padded to the
largest frame and every pair of atoms is tested against every periodic image needed for the
cutoff, in a few tensor operations (chunked to bound memory). Frames larger than
``max_atoms`` (where the n² search stops paying) go one by one through vesin-torch, which runs
on CUDA and CPU tensors.

The edge convention is nequip's: ``edge_vec = pos[j] - pos[i] + shift @ cell`` with integer
shifts, the same as matscipy and vesin, so the model sees exactly the edges of the stock path
(only their order differs, which the sums in the model do not notice beyond float round-off).
"""

from __future__ import annotations

import torch
from nequip.data import AtomicDataDict as K
from nequip.data._nl import NEIGHBORLIST_BACKEND_OPTIONS, register_neighborlist_backend
from vesin.torch import NeighborList

BACKEND = "li_batched"
"""Name under which :func:`register` makes the backend known to nequip."""


def batched_neighbor_list(data: dict, r_max: float, max_atoms: int = 512, chunk_pairs: int = 16_000_000) -> dict:
    """Add ``edge_index`` and ``edge_cell_shift`` to a (batched) nequip ``AtomicDataDict``.

    Parameters
    ----------
    data
        nequip data: positions, per-frame cell (row vectors), pbc, and for several frames
        ``batch`` and ``num_nodes``. Every frame must be periodic in all three directions.
    r_max
        Cutoff radius (Å).
    max_atoms
        Frames with more atoms use vesin-torch instead of the padded all-pairs search.
    chunk_pairs
        Upper bound on the pair × image entries held at once (memory bound of one chunk).

    Returns
    -------
    dict
        ``data`` with the neighbour list added in place.
    """
    pos = data[K.POSITIONS_KEY]
    dev, dtype, n_total = pos.device, pos.dtype, pos.shape[0]
    n_frames = K.num_frames(data)
    cell = data[K.CELL_KEY].view(n_frames, 3, 3).to(dtype)
    if K.PBC_KEY in data and not bool(data[K.PBC_KEY].all()):
        raise ValueError(f"backend {BACKEND!r} needs periodic boundary conditions in all three directions")
    if n_frames == 1:
        batch = torch.zeros(n_total, dtype=torch.long, device=dev)
        counts = torch.tensor([n_total], device=dev)
    else:
        batch = data[K.BATCH_KEY]
        counts = data[K.NUM_NODES_KEY].view(-1).long()
    ptr = torch.zeros(n_frames + 1, dtype=torch.long, device=dev)
    ptr[1:] = torch.cumsum(counts, 0)
    n_max = int(counts.max())
    if n_max > max_atoms:
        edge_index, shifts = _vesin_frames(pos, cell, ptr, r_max)
    else:
        edge_index, shifts = _padded_all_pairs(pos, cell, batch, ptr, n_max, r_max, chunk_pairs)
    data[K.EDGE_INDEX_KEY] = edge_index
    data[K.EDGE_CELL_SHIFT_KEY] = shifts.to(cell.dtype)
    return data


def _padded_all_pairs(pos, cell, batch, ptr, n_max, r_max, chunk_pairs):
    """All pairs × all needed images of every frame, padded to ``n_max`` atoms."""
    dev, dtype = pos.device, pos.dtype
    n_frames = cell.shape[0]
    local = torch.arange(pos.shape[0], device=dev) - ptr[batch]
    padded = torch.zeros(n_frames, n_max, 3, dtype=dtype, device=dev)
    padded[batch, local] = pos
    present = torch.zeros(n_frames, n_max, dtype=torch.bool, device=dev)
    present[batch, local] = True
    inverse = torch.linalg.inv(cell)
    wraps = torch.floor(torch.einsum("fni,fij->fnj", padded, inverse))
    wrapped = padded - torch.einsum("fnj,fjk->fnk", wraps, cell)
    # images needed per axis: the cutoff over the distance between lattice planes, plus one
    reach = (torch.floor(r_max * inverse.norm(dim=1)) + 1).long().amax(0).tolist()
    images = torch.cartesian_prod(*[torch.arange(-k, k + 1, device=dev, dtype=dtype) for k in reach])
    home = int((images == 0).all(1).nonzero()[0, 0])
    diagonal = torch.arange(n_max, device=dev)
    per_chunk = max(1, chunk_pairs // (n_max * n_max * images.shape[0]))
    edges, shifts = [], []
    for f0 in range(0, n_frames, per_chunk):
        p, m, c, w = (t[f0 : f0 + per_chunk] for t in (wrapped, present, cell, wraps))
        offsets = torch.einsum("sk,fkl->fsl", images, c)
        d = p[:, None, :, None, :] + offsets[:, None, None, :, :] - p[:, :, None, None, :]  # [f, i, j, image, 3]
        keep = ((d * d).sum(-1) < r_max**2) & m[:, :, None, None] & m[:, None, :, None]
        keep[:, diagonal, diagonal, home] = False
        f, i, j, s = keep.nonzero(as_tuple=True)
        frame = f + f0
        edges.append(torch.stack([ptr[frame] + i, ptr[frame] + j]))
        shifts.append(images[s] - w[f, j] + w[f, i])  # undo the wrapping of both atoms
    return torch.cat(edges, 1), torch.cat(shifts, 0)


def _vesin_frames(pos, cell, ptr, r_max):
    """vesin-torch, one frame at a time (for frames too large for the all-pairs search)."""
    search = NeighborList(cutoff=float(r_max), full_list=True)
    edges, shifts = [], []
    for f in range(cell.shape[0]):
        i, j, s = search.compute(points=pos[ptr[f] : ptr[f + 1]], box=cell[f], periodic=True, quantities="ijS")
        edges.append(torch.stack([i.long(), j.long()]) + ptr[f])
        shifts.append(s.to(pos.dtype))
    return torch.cat(edges, 1), torch.cat(shifts, 0)


def register() -> str:
    """Register :func:`batched_neighbor_list` with nequip (idempotent); return the backend name."""
    if BACKEND not in NEIGHBORLIST_BACKEND_OPTIONS:
        register_neighborlist_backend(BACKEND, batched_neighbor_list, supports_cpu=True, supports_cuda=True)
    return BACKEND
