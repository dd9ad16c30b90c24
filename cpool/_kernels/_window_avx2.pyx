# The kernels of _window.pyx compiled again with AVX2 enabled (setup.py adds the flag); see
# cpool/_kernels/__init__.py for how one of the two builds is chosen at import.
include "_window.pyx"
