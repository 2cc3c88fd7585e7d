"""Training structures generated from the spec."""

from __future__ import annotations

from collections import Counter

import pytest
from pymatgen.core import Lattice, Structure

from li_campaign.core.errors import InputError
from li_campaign.core.hashing import structure_hash
from li_campaign.core.lithium import check_lithium_structure
from li_campaign.schemas.spec import spec_from_dict
from li_campaign.structures.training_set import generate_training_structures


def test_demo_training_set_covers_every_origin():
    spec = spec_from_dict({"name": "t", "training_set": {"bulk": {"n_strained": 12, "n_rattled": 10}}})
    items = generate_training_structures(spec.training_set, seed=7)
    counts = Counter(item.origin for item in items)
    assert counts["bulk_strain"] + counts["bulk_rattle"] >= 20
    assert counts["vacancy"] == 1
    assert counts["slab"] == 12  # clean + three perturbed copies per facet
    # every distinct site ((100): 3, (110): 4, (111): 4), each at the default 4 heights
    assert counts["adatom"] == (3 + 4 + 4) * 4
    vacancy = next(i for i in items if i.origin == "vacancy")
    assert len(vacancy.structure) == 15
    for facet in ("100", "110", "111"):
        clean = next(i for i in items if i.label == f"slab {facet}")
        adatoms = [i for i in items if i.label.startswith(f"slab {facet} + adatom")]
        assert {a.label.split(" + adatom ")[1].split("-")[0] for a in adatoms} == {"hollow", "bridge", "ontop"}
        for ad in adatoms:
            assert len(ad.structure) % len(clean.structure) == 1  # n x slab + one adatom
            assert ad.is_slab


def test_generation_is_deterministic_and_seeded():
    spec = spec_from_dict({"name": "t"}).training_set
    first = [structure_hash(i.structure) for i in generate_training_structures(spec, seed=1)]
    again = [structure_hash(i.structure) for i in generate_training_structures(spec, seed=1)]
    other = [structure_hash(i.structure) for i in generate_training_structures(spec, seed=2)]
    assert first == again
    assert first != other
    assert len(set(first)) == len(first)


def test_structure_hash_ignores_site_order():
    a = Structure(Lattice.cubic(3.44), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    b = Structure(Lattice.cubic(3.44), ["Li", "Li"], [[0.5, 0.5, 0.5], [1.0, 0, 0]])
    assert structure_hash(a) == structure_hash(b)


def test_non_lithium_structure_is_rejected():
    nacl = Structure(Lattice.cubic(5.6), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(InputError, match="lithium only"):
        check_lithium_structure(nacl, "input.cif")


def test_overlapping_atoms_are_rejected():
    broken = Structure(Lattice.cubic(3.44), ["Li", "Li"], [[0, 0, 0], [0.05, 0, 0]])
    with pytest.raises(InputError, match="Å apart"):
        check_lithium_structure(broken)


def test_clean_slabs_at_the_fanout_thickness_where_the_layers_differ():
    """8 Å training slabs against a 10 Å fan-out: (110) 4 against 5 layers, (111) 10 against 12, (100) 6 and 6."""
    from li_campaign.geometry.slabs import image_repeats, make_symmetric_slab
    from li_campaign.structures.training_set import adatom_image_distance

    data = {"name": "t", "training_set": {"slabs": {"min_slab_size_A": 8.0, "n_perturbed": 2, "adatom_n_heights": 1}}}
    training = spec_from_dict(data).training_set
    plain = generate_training_structures(training, seed=3, r_max_A=5.9)
    items = generate_training_structures(training, seed=3, r_max_A=5.9, fanout_slab_size_A=10.0)
    # the plain set is unchanged and comes first; the new slabs come before the isolated atom
    assert [structure_hash(i.structure) for i in items[: len(plain) - 1]] == [structure_hash(i.structure) for i in plain[:-1]]
    assert items[-1].origin == plain[-1].origin == "isolated_atom"
    extra = items[len(plain) - 1 : -1]
    assert [i.label for i in extra] == [
        f"slab {facet} fan-out thickness{suffix}" for facet in ("110", "111") for suffix in ("", " perturbed 0", " perturbed 1")
    ]
    for item in extra:
        facet = tuple(int(c) for c in item.label.split()[1])
        fanout = make_symmetric_slab(3.44, facet, 10.0, 8.0)
        assert item.origin == "slab" and item.is_slab and len(item.structure) == len(fanout)
        thin = make_symmetric_slab(3.44, facet, 8.0, 8.0)
        assert len(item.structure) == len(thin) + (1 if facet == (1, 1, 0) else 2)
        # k-mesh commensurate with the facet's adatom cells, as its training slabs
        assert item.kpoint_multiple == image_repeats(thin, adatom_image_distance(training.slabs, 5.9))
    clean = next(i for i in extra if i.label == "slab 110 fan-out thickness")
    assert structure_hash(clean.structure) == structure_hash(make_symmetric_slab(3.44, (1, 1, 0), 10.0, 8.0))
    off = spec_from_dict({**data, "training_set": {"slabs": {**data["training_set"]["slabs"], "fanout_thickness": False}}})
    assert len(generate_training_structures(off.training_set, seed=3, r_max_A=5.9, fanout_slab_size_A=10.0)) == len(plain)
