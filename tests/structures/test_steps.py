"""Stepped and kinked slabs of the bcc (100) and (110) terraces: geometry, fixed planes, site labels, bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from li_campaign.core.errors import InputError
from li_campaign.geometry.facets import interplanar_spacing
from li_campaign.geometry.slabs import count_layers, inplane_minimum_image
from li_campaign.geometry.steps import step_edge_pair, stepped_slab
from li_campaign.schemas.spec import StepSpec

A = 3.44
STEP = {(1, 0, 0): (A, "<100>", A), (1, 1, 0): (math.sqrt(3) * A / 2, "<111>", math.sqrt(2 / 3) * A)}


def _classes(slab):
    return {site.site_class for site in slab.sites}


@pytest.mark.parametrize("terrace", [(1, 0, 0), (1, 1, 0), (0, -1, 1)])
@pytest.mark.parametrize(("width", "n_along"), [(3, 1), (4, 2)])
def test_step_geometry(terrace, width, n_along):
    slab = stepped_slab(A, terrace, width, 6.0, 10.0, fix_bottom_layers=2, n_along=n_along)
    spacing, family, rows = STEP[(1, 0, 0) if terrace == (1, 0, 0) else (1, 1, 0)]
    assert slab.step_direction_family == family
    assert slab.atom_spacing_A == pytest.approx(spacing) and slab.row_spacing_A == pytest.approx(rows)
    assert slab.step_length_A == pytest.approx(n_along * spacing) and slab.n_steps == 2
    assert slab.terrace_width_A == pytest.approx(width * rows)
    assert np.dot(slab.step_direction, [0, 0, 1]) == pytest.approx(0.0)
    # half of the top plane's 2w rows are removed: one ascending and one descending step per cell
    assert slab.n_removed == width * n_along
    assert len(slab.flat) - len(slab.structure) == slab.n_removed
    assert len(slab.flat) == slab.n_layers * 2 * width * n_along
    assert count_layers(slab.structure) == count_layers(slab.flat) == slab.n_layers
    z_flat, z = slab.flat.cart_coords[:, 2], slab.structure.cart_coords[:, 2]
    top = z_flat > z_flat.max() - 0.1
    assert np.count_nonzero(z > z.max() - 0.1) == np.count_nonzero(top) // 2
    assert slab.step_height_A == pytest.approx(interplanar_spacing(A, terrace))
    # the same bottom planes are fixed in the stepped slab and its flat reference
    for structure in (slab.structure, slab.flat):
        fixed = [not any(flags) for flags in structure.site_properties["selective_dynamics"]]
        assert sum(fixed) == 2 * 2 * width * n_along
        assert np.all(structure.cart_coords[fixed, 2] < structure.cart_coords[:, 2].min() + 1.5 * slab.step_height_A)


@pytest.mark.parametrize("terrace", [(1, 0, 0), (1, 1, 0)])
def test_site_labels_and_distances(terrace):
    slab = stepped_slab(A, terrace, 4, 6.0, 10.0)
    labels = [site.label for site in slab.sites]
    assert len(labels) == len(set(labels))
    assert _classes(slab) == {"terrace", "step-edge-upper", "step-edge-lower"}
    by_class = {c: [s for s in slab.sites if s.site_class == c] for c in _classes(slab)}
    (lower,) = by_class["step-edge-lower"]
    assert lower.level == "lower" and lower.distance_to_edge_A == pytest.approx(slab.row_spacing_A)
    assert all(s.distance_to_edge_A > lower.distance_to_edge_A for s in by_class["terrace"] if s.level == "lower")
    assert all(s.level == "upper" for s in by_class["step-edge-upper"])
    # the two steps of the cell are symmetry-equivalent: each edge site has a copy at either step
    assert len(lower.copies) == 2
    # every site is a lattice-continuation position: its nearest slab atom is a bulk neighbour away
    for site in slab.sites:
        distances = [n.nn_distance for n in slab.structure.get_sites_in_sphere(site.position_A, 3.5)]
        assert min(distances) == pytest.approx(math.sqrt(3) * A / 2, abs=1e-3)


def test_kinked_slabs():
    square = stepped_slab(A, (1, 0, 0), 4, 6.0, 10.0, n_along=4, kinked=True)
    assert square.n_removed == 4 * 4 + 2  # the removed rows and half of one edge row
    kinks = [s for s in square.sites if s.site_class == "kink"]
    assert len(kinks) == 1 and len(kinks[0].copies) == 2  # the two ends of the notch are mirror images on (100)
    assert kinks[0].distance_to_edge_A == pytest.approx(0.0, abs=1e-6)
    rect = stepped_slab(A, (1, 1, 0), 4, 6.0, 10.0, n_along=4, kinked=True)
    assert len([s for s in rect.sites if s.site_class == "kink"]) == 2  # no mirror across a <111> step on (110)
    assert {"terrace", "step-edge-upper", "step-edge-lower", "kink"} == _classes(rect)


def test_bad_inputs():
    with pytest.raises(InputError, match="terraces only"):
        stepped_slab(A, (1, 1, 1), 4, 6.0, 10.0)
    with pytest.raises(InputError, match="terraces only"):
        stepped_slab(A, (2, 1, 1), 4, 6.0, 10.0)
    with pytest.raises(InputError, match="terrace_width_rows"):
        stepped_slab(A, (1, 0, 0), 2, 6.0, 10.0)
    with pytest.raises(InputError, match="at least 4 atoms"):
        stepped_slab(A, (1, 0, 0), 4, 6.0, 10.0, n_along=2, kinked=True)
    with pytest.raises(ValidationError, match="terraces only"):
        StepSpec(terraces=["100", "111"])
    with pytest.raises(ValidationError, match="terrace_width_rows = 2"):
        StepSpec(terrace_width_rows=2)
    with pytest.raises(ValidationError, match="listed twice"):
        StepSpec(terraces=["110", "011"])
    assert StepSpec.from_dict(StepSpec().as_dict()) == StepSpec()


@pytest.mark.parametrize("terrace", [(1, 0, 0), (1, 1, 0)])
@pytest.mark.parametrize("width", [3, 5])
def test_step_edge_pair_is_one_step(terrace, width):
    slab = stepped_slab(A, terrace, width, 6.0, 10.0, n_along=2)
    upper, lower = step_edge_pair(slab.sites, slab.structure.lattice.matrix)
    across = np.cross([0.0, 0.0, 1.0], slab.step_direction)
    lateral = inplane_minimum_image(slab.structure.lattice.matrix, np.array([lower]) - np.array(upper))[0]
    # upper edge site half a row inside the edge row, the step foot one row outside it
    assert abs(lateral @ across[:2]) == pytest.approx(1.5 * slab.row_spacing_A, abs=1e-6)
    assert upper[2] - lower[2] == pytest.approx(slab.step_height_A, abs=1e-6)
    with pytest.raises(InputError, match="no step-edge-upper"):
        step_edge_pair([s for s in slab.sites if s.site_class != "step-edge-upper"], slab.structure.lattice.matrix)
