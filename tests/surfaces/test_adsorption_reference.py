"""Which adsorption energy is the facet minimum: the freely relaxed stable minimum, the document says so."""

from __future__ import annotations

import pytest

from li_campaign.schemas.surfaces import AdsorptionDoc, AdsorptionSite
from li_campaign.surfaces.adsorption import FREE_BASIS, PINNED_BASIS, facet_minimum


def site(label: str, pinned: float, free: float, stable: bool) -> AdsorptionSite:
    return AdsorptionSite(
        label=label,
        site_type=label.split("-")[0],
        position_A=[0.0, 0.0, 20.0],
        adsorption_energy_eV=pinned,
        stable=stable,
        relaxed_to=label if stable else "hollow-0",
        free_adsorption_energy_eV=free,
    )


def test_minimum_is_the_lowest_free_energy_of_a_stable_site():
    # stepped-facet case: the stable hollow-1 relaxes 0.3 eV below its pinned energy, so it is the minimum
    # although the stable hollow-0 has the lower pinned energy; the unstable bridge's lower free energy
    # (it slid into a hollow) does not count, nor does the ontop's pinned energy
    sites = [
        site("hollow-0", -1.20, -1.22, True),
        site("hollow-1", -1.10, -1.40, True),
        site("bridge-0", -1.00, -1.45, False),
        site("ontop-0", -1.50, -1.45, False),
    ]
    assert facet_minimum(sites) == {
        "min_adsorption_energy_eV": -1.40,
        "min_site": "hollow-1",
        "min_adsorption_basis": FREE_BASIS,
        "min_pinned_adsorption_energy_eV": -1.20,
        "min_pinned_site": "hollow-0",
    }


def test_without_a_stable_site_the_minimum_is_pinned_over_all_sites():
    sites = [site("hollow-0", -1.20, -1.30, False), site("bridge-0", -1.25, -1.30, False)]
    assert facet_minimum(sites) == {
        "min_adsorption_energy_eV": -1.25,
        "min_site": "bridge-0",
        "min_adsorption_basis": PINNED_BASIS,
        "min_pinned_adsorption_energy_eV": -1.25,
        "min_pinned_site": "bridge-0",
    }


def test_no_sites_is_an_error():
    with pytest.raises(ValueError, match="no adsorption sites"):
        facet_minimum([])


def test_document_carries_the_basis_and_rejects_an_unknown_one():
    fields = AdsorptionDoc.model_fields
    assert set(fields["min_adsorption_basis"].annotation.__args__[0].__args__) == {FREE_BASIS, PINNED_BASIS}
    assert fields["min_adsorption_basis"].default is None  # documents stored before the field: the pinned minimum
    with pytest.raises(ValueError, match="min_adsorption_basis"):
        AdsorptionDoc.__pydantic_validator__.validate_assignment(
            AdsorptionDoc.model_construct(), "min_adsorption_basis", "lowest_of_anything"
        )
