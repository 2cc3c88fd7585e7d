# GPAW 26 compiles its C sources as C++; distutils' default `gcc` fails on <algorithm>.
compiler = 'g++'
mpi = False
libraries = ['xc', 'blas']  # a siteconfig replaces the defaults, so list blas again
fftw = True
libraries += ['fftw3']
