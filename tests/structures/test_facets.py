"""Facet enumeration of bcc Li, its single termination, and slabs of an exact number of planes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure

from li_campaign.core.errors import InputError
from li_campaign.core.miller import distinct_facets
from li_campaign.geometry.facets import (
    canonical_miller,
    interplanar_spacing,
    is_high_index,
    slab_with_layers,
    termination_shifts,
)
from li_campaign.geometry.slabs import count_layers
from li_campaign.schemas.spec import FacetEnumerationSpec, facet_label

A = 3.44
UP_TO_3 = [
    (1, 0, 0), (1, 1, 0), (1, 1, 1), (2, 1, 0), (2, 1, 1), (2, 2, 1), (3, 1, 0),
    (3, 1, 1), (3, 2, 0), (3, 2, 1), (3, 2, 2), (3, 3, 1), (3, 3, 2),
]  # fmt: skip


def test_facet_lists():
    assert distinct_facets(1) == [(1, 0, 0), (1, 1, 0), (1, 1, 1)]
    assert distinct_facets(2) == UP_TO_3[:6]
    assert distinct_facets(3) == UP_TO_3
    four = distinct_facets(4)
    assert len(four) == 22 and four[:13] == UP_TO_3
    assert {max(f) for f in four[13:]} == {4}
    assert len({facet_label(f) for f in four}) == 22  # no two members of one cubic family
    assert all(canonical_miller(f) == f and math.gcd(*f) == 1 for f in four)


def test_canonical_and_high_index():
    assert canonical_miller((0, -2, 2)) == (1, 1, 0)
    assert canonical_miller((-1, 3, 2)) == (3, 2, 1)
    assert not is_high_index((0, 0, -2)) and not is_high_index((1, -1, 1))
    assert is_high_index((2, 1, 0)) and is_high_index((1, 1, 3))


@pytest.mark.parametrize("bad", [0, 5, -1, True, 2.0])
def test_bad_max_index(bad):
    with pytest.raises(InputError, match="max_index"):
        distinct_facets(bad)


@pytest.mark.parametrize("bad", [0, 5])
def test_spec_rejects_bad_max_index(bad):
    with pytest.raises(ValidationError, match="must be an integer from 1 to 4"):
        FacetEnumerationSpec(max_index=bad)
    assert FacetEnumerationSpec(max_index=4).max_index == 4
    assert FacetEnumerationSpec.from_dict(FacetEnumerationSpec().as_dict()) == FacetEnumerationSpec()


def test_spec_rejects_inverted_ranges():
    with pytest.raises(ValidationError, match="max_thickness_A"):
        FacetEnumerationSpec(start_thickness_A=12.0, max_thickness_A=10.0)
    with pytest.raises(ValidationError, match="max_vacuum_A"):
        FacetEnumerationSpec(vacuum_A=20.0, max_vacuum_A=15.0)


def test_interplanar_spacing():
    assert interplanar_spacing(A, (1, 0, 0)) == pytest.approx(A / 2)
    assert interplanar_spacing(A, (0, 2, 2)) == pytest.approx(A / math.sqrt(2))
    assert interplanar_spacing(A, (1, 1, 1)) == pytest.approx(A / (2 * math.sqrt(3)))
    assert interplanar_spacing(A, (2, 1, 1)) == pytest.approx(A / math.sqrt(6))


@pytest.mark.parametrize("hkl", [(1, 0, 0), (1, 1, 0), (1, 1, 1), (2, 1, 0), (2, 1, 1), (2, 2, 1), (3, 2, 1), (4, 4, 3)])
def test_one_termination_per_facet(hkl):
    assert len(termination_shifts(A, hkl)) == 1


def _inverted(slab: Structure) -> Structure:
    return Structure(slab.lattice, slab.species, -slab.frac_coords)


@pytest.mark.parametrize("hkl", [(1, 0, 0), (1, 1, 0), (1, 1, 1), (2, 1, 1), (3, 2, 1), (4, 4, 3)])
@pytest.mark.parametrize("n_layers", [2, 5])
def test_slab_with_exact_layers_and_vacuum(hkl, n_layers):
    slab = slab_with_layers(A, hkl, n_layers, 10.0)
    assert count_layers(slab) == n_layers == len(slab)  # laterally primitive: one atom per plane
    z = np.sort(slab.cart_coords[:, 2])
    assert np.allclose(np.diff(z), interplanar_spacing(A, hkl), atol=1e-4)
    assert slab.lattice.c - (z[-1] - z[0]) == pytest.approx(10.0)
    assert np.allclose(slab.lattice.matrix[2, :2], 0.0) and np.allclose(slab.lattice.matrix[:2, 2], 0.0)
    matcher = StructureMatcher(primitive_cell=False, scale=False, attempt_supercell=False)
    assert matcher.fit(slab, _inverted(slab))  # inversion-symmetric: a symmetric slab


def test_slab_bad_layers():
    with pytest.raises(InputError, match="n_layers"):
        slab_with_layers(A, (1, 1, 0), 1, 10.0)
    with pytest.raises(InputError, match="vacuum"):
        slab_with_layers(A, (1, 1, 0), 4, 0.0)
