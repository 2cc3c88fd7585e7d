"""The DFT teacher's labelled frames: ``training_frame`` outputs -> ``training_frames``."""

from __future__ import annotations

from li_campaign.builders.base import JobOutputMapBuilder, pick, provenance_fields

_FRAME_FIELDS = ("frame_id", "origin", "label", "n_atoms", "energy_eV", "energy_per_atom_eV", "engine", "wall_time_s")


class TrainingFrameBuilder(JobOutputMapBuilder):
    """``training_frame`` outputs -> ``training_frames`` (keyed by ``frame_id``; no structure or forces)."""

    doc_type = "training_frame"
    target_key_path = "output.frame_id"
    include_reused = True  # a reused frame is still a frame of this campaign's training set
    output_fields = (*_FRAME_FIELDS, "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.frames.TrainingFrameDoc`."""
        out = item["output"]
        prov = out["provenance"]
        return {
            **pick(out, _FRAME_FIELDS),
            **provenance_fields(out),
            "structure_hash": prov.get("structure_hash"),
            "dft_settings": prov.get("dft_settings"),
        }
