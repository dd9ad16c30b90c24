"""Build the Cython kernels, with OpenMP when the compiler supports it.

All package metadata lives in pyproject.toml; this file only configures the extensions:
Cython directives (set here, once, for every kernel) and OpenMP detection.

Environment switches:
  CPOOL_NO_OPENMP=1        build serial kernels even when OpenMP works
  CPOOL_FAIL_NO_OPENMP=1   fail the build instead of falling back to serial
  CPOOL_CYTHON_DEBUG=1     turn bounds/wraparound/initialised checks back on (debug builds)
"""
import os
import sys
import tempfile
import textwrap
import warnings

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNELS = ["_openmp", "_window", "_global", "_stochastic", "_backward"]

DEBUG = os.environ.get("CPOOL_CYTHON_DEBUG", "0") not in ("", "0")
DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "nonecheck": False,
    "cdivision": True,
    "embedsignature": True,
}

OPENMP_TEST_PROGRAM = textwrap.dedent(
    """
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        printf("%d\\n", n);
        return n > 0 ? 0 : 1;
    }
    """
)


def _compiler_supports_openmp(compiler, flag):
    """Compile and link a tiny OpenMP program with the compiler setuptools resolved."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "omp_test.c")
        with open(src, "w") as f:
            f.write(OPENMP_TEST_PROGRAM)
        try:
            objects = compiler.compile([src], output_dir=tmp, extra_postargs=[flag])
            compiler.link_executable(objects, "omp_test", output_dir=tmp, extra_postargs=[flag])
        except Exception:  # CompileError, LinkError: both mean "no usable OpenMP"
            return False
    return True


class BuildExtWithOpenMP(build_ext):
    def build_extensions(self):
        msvc = self.compiler.compiler_type == "msvc"
        flag = "/openmp" if msvc else "-fopenmp"
        use_openmp = os.environ.get("CPOOL_NO_OPENMP", "0") in ("", "0") and _compiler_supports_openmp(
            self.compiler, flag
        )
        if not use_openmp:
            message = "cpool: OpenMP is not available; building serial kernels (cpool.openmp_enabled() is False)."
            if os.environ.get("CPOOL_FAIL_NO_OPENMP", "0") not in ("", "0"):
                sys.exit(message)
            warnings.warn(message)
        # Portable flags only: no -march=native (wheels would SIGILL elsewhere), no -ffast-math
        # (it folds the `v != v` NaN test away and breaks NaN propagation).
        opt = ["/O2"] if msvc else ["-O3"]
        for ext in self.extensions:
            ext.extra_compile_args = opt + ([flag] if use_openmp else [])
            ext.extra_link_args = [flag] if use_openmp and not msvc else []
        self.parallel = self.parallel or os.cpu_count() or 1  # compile the modules concurrently
        super().build_extensions()


extensions = [
    Extension(f"cpool._kernels.{name}", [f"cpool/_kernels/{name}.pyx"]) for name in KERNELS
]

setup(
    ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES, nthreads=os.cpu_count() or 1),
    cmdclass={"build_ext": BuildExtWithOpenMP},
)
