"""DFT labelling: one engine interface (GPAW PBE here; analytic potentials for tests)."""
