"""Small helpers shared by every stage: hashing, provenance, lithium structure checks."""
