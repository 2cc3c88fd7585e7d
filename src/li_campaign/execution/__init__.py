"""How a calculation runs as a jobflow job: result reuse, job packing and worker routing.

``reuse`` (a calculation whose inputs already have a result is not run again), ``maker``
(the base of the calculation Makers: their campaign fields, provenance and reuse),
``packing`` (many small calculations in one job) and ``resources`` (FireWorks categories and
GPU requests). Every package that defines jobs uses them, so they sit below all of them and
import no job module.
"""
