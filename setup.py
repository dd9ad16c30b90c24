"""Build the Cython kernels, with OpenMP when the compiler supports it.

All package metadata lives in pyproject.toml; this file only configures the extensions:
Cython directives (set here, once, for every kernel), OpenMP detection, and on x86-64 a second
build of the kernel modules with AVX2 (``avx2_twin(<module>)``: ``_w_avx2`` for ``_window``,
compiled from the baseline's generated C), which cpool picks at import on CPUs that have it
(cpool/_kernels/__init__.py). The default flags stay portable: the baseline build
runs on any x86-64 CPU.

Environment switches:
  CPOOL_NO_OPENMP=1        build serial kernels even when OpenMP works
  CPOOL_FAIL_NO_OPENMP=1   fail the build instead of falling back to serial
  CPOOL_CYTHON_DEBUG=1     turn bounds/wraparound/initialised checks back on (debug builds)
  CPOOL_NO_AVX2=1          skip the AVX2 build of the kernels (baseline only; halves build time)
  CPOOL_DEBUG_INFO=1       keep debug information (-g) in the kernels (left out by default)
  CPOOL_BUILD_CACHE=DIR    where built extensions are kept for reuse (default: build/ext-cache;
                           empty: no cache)

Builds are reused: each extension is stored under a key of its C source, flags and compiler,
and an install whose key is already there copies it instead of compiling; Cython's output is
kept likewise under a key of the kernel sources (CPOOL_BUILD_CACHE/cython/KEY). A second
`pip install -e .` (another extra, a reinstall) so takes seconds, not minutes; pip builds every
install in a fresh temporary directory, where setuptools alone would compile everything again.
The cache keeps the newest two builds of each (a branch's and main's, which asv and the CI
gate build in turn). ccache, when it is on the PATH and CC is not set, caches the compiles
themselves.
"""
import concurrent.futures
import hashlib
import os
import platform
import shutil
import sys
import tempfile
import textwrap
import warnings

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNELS = ["_openmp", "_buffers", "_convert", "_window", "_global", "_stochastic", "_backward"]
# Built a second time with AVX2, as the module avx2_twin(name). Only -mavx2: no -mfma, since
# contracting a*b + c into an FMA would round differently, and both builds must give bitwise
# identical results (the same C code, and GCC does not reassociate float operations).
SIMD_KERNELS = ["_window", "_global", "_stochastic", "_backward"]
AVX2_FLAG = "-mavx2"
KERNEL_DIR = os.path.join("cpool", "_kernels")


def avx2_twin(name):
    """The AVX2 build's module name: ``name`` with its tail replaced by ``_avx2``, as long as
    ``name`` (``_window`` -> ``_w_avx2``, ``_stochastic`` -> ``_stoch_avx2``)."""
    return name[:len(name) - len("_avx2")] + "_avx2"


def write_avx2_twin_source(name):
    """Write the AVX2 twin's C: the baseline's, Cython's output, with the module renamed.

    Cythonizing the sources a second time under another name cost as long as the first time
    (52 s of CPU for _window alone). Only the module's name differs: its import symbol
    (``PyInit_<name>``), its short and dotted names. The twin's name has the same length, so
    Cython's table of string constants (one array, sliced by stored lengths) stays valid; it
    is compiled with ``CYTHON_COMPRESS_STRINGS=0`` to read that plain array, not the
    compressed copy that still holds the old name. File names in tracebacks stay the real
    .pyx's. Written only when it changes.
    """
    twin = avx2_twin(name)
    with open(os.path.join(KERNEL_DIR, name + ".c")) as f:
        code = f.read()
    for old, new in ((f"cpool._kernels.{name}", f"cpool._kernels.{twin}"),
                     (f"PyInit_{name}", f"PyInit_{twin}"),
                     (f'"{name}"', f'"{twin}"'), (f"'{name}'", f"'{twin}'")):
        if old not in code:
            sys.exit(f"cpool: {name}.c has no {old!r}; cannot derive its AVX2 twin")
        code = code.replace(old, new)
    path = os.path.join(KERNEL_DIR, twin + ".c")
    if os.path.exists(path):
        with open(path) as f:
            if f.read() == code:
                return path
    with open(path, "w") as f:
        f.write(code)
    return path

DEBUG = os.environ.get("CPOOL_CYTHON_DEBUG", "0") not in ("", "0")
# Debug information is a quarter of the kernels' compile time (var-tracking over their large
# inlined loops) and 85 % of the size of their shared objects.
DEBUG_INFO = DEBUG or os.environ.get("CPOOL_DEBUG_INFO", "0") not in ("", "0")
HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_CACHE = os.environ.get("CPOOL_BUILD_CACHE", os.path.join(HERE, "build", "ext-cache"))
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
    int cpool_openmp_probe(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        return n;
    }
    """
)


def _builds(compiler, program, compile_args, link_args=None):
    """Whether the compiler setuptools resolved compiles ``program`` with ``compile_args`` and,
    given ``link_args``, links it into a shared object with them.

    The probe is built the way the extensions are: by the same compiler object (so CFLAGS,
    LDFLAGS and CC apply to it as to them) into a shared object. An executable was linked
    before, without CFLAGS: with -fsanitize=address in CFLAGS its link failed (no sanitizer
    runtime), and the build silently came out serial.
    """
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(program)
        try:
            objects = compiler.compile([src], output_dir=tmp, extra_postargs=compile_args)
            if link_args is not None:
                compiler.link_shared_object(objects, os.path.join(tmp, "probe.so"),
                                            extra_postargs=link_args)
        except Exception:  # CompileError, LinkError: both mean "not usable"
            return False
    return True


def _compiler_supports_openmp(compiler, flag, compile_args=()):
    """Compile and link an OpenMP function with the flags the extensions get."""
    msvc = compiler.compiler_type == "msvc"
    return _builds(compiler, OPENMP_TEST_PROGRAM, list(compile_args) + [flag],
                   [] if msvc else [flag])


# GCC versions a loop it vectorises with runtime checks that its pointers do not overlap, up to
# 10 checks by default; stochastic pooling's split 3x3 stride-2 rows read six row pointers and
# write two, over that limit, and the loop stayed scalar (2.5x slower). Raised where the
# compiler takes the option (GCC); others ignore the need.
ALIAS_CHECKS_FLAG = "--param=vect-max-version-for-alias-checks=40"


def _optimisation_flags(compiler):
    """The compile flags every extension gets (and the OpenMP probe with them), beside its
    optimisation level (:func:`_level_flags`).

    Portable flags only: no -march=native (wheels would SIGILL elsewhere), no -ffast-math (it
    folds the `v != v` NaN test away and breaks NaN propagation). -fno-trapping-math: no code
    here reads FP exception flags, and without it GCC will not if-convert a select fed by a
    division it could otherwise skip (it keeps the branch so as not to raise a flag the C code
    would not have), which left such loops scalar. It changes no result: rounding and
    NaN/inf/signed-zero semantics stay IEEE. -fno-math-errno: no code here reads errno, and
    with it GCC keeps a call to libm beside each sqrt (to set errno for a negative argument),
    which leaves the loop scalar (LP pooling's gradient: 2.3 ns a value). Results are the
    same: sqrt is correctly rounded either way.

    The level: -O3, but for ``_window`` (``CHEAPER_LEVEL``). Measured on 2026-12-02 (one run,
    the full bench), -O2 -ftree-vectorize -fvect-cost-model=dynamic without -funswitch-loops
    made max 3x3 s2 12x slower, stochastic pooling 7-12x, 3-D max 6-11x; -O3
    -fno-unswitch-loops -fno-version-loops-for-strides made max 3x3 s2 6x slower. The
    kernels' flag tests (is_max, divide, square) rely on unswitching.
    """
    if compiler.compiler_type == "msvc":
        return ["/O2"]
    opt = ["-fno-trapping-math", "-fno-math-errno"] + ([] if DEBUG_INFO else ["-g0"])
    if _builds(compiler, "int cpool_probe(void) { return 0; }\n", ["-Werror", ALIAS_CHECKS_FLAG]):
        opt.append(ALIAS_CHECKS_FLAG)
    return opt


# The optimisation level of each kernel module (GCC/Clang): -O3, or for the modules here the
# cheaper set beside it. _window's -O3 build took 220-250 s of GCC's time, of about 300 s that
# all four SIMD modules took (measured on 2026-12-03 on the AVX2 C; the baseline build doubles
# it): most of the set-up. GCC's per-function report put 180 s of it in the eight integer
# dtypes' copies, and nearly all the extra time over -O2 in O3's inlining limits (register
# allocation and dataflow over the larger bodies). This set (-O2, the loop vectoriser at O3's
# cost model, loop unswitching, which the kernels' flag tests need, and a middle inlining
# limit for functions declared inline) compiled it in 149 s, side by side with the baseline
# build as a build runs them. Over 35 bench cases (alternating processes, three rounds) each
# was within 0.89-1.09x of -O3's time, once the 2x2 tiles' helpers took their op as a literal
# (_simd.pxd). -O2's own limit (70) compiled in 103 s but left 3-D max and the small integer
# sums 7-8 % slower (their row helpers in _rows.pxd became calls); O3's 200, 172 s. The other
# modules take 10-30 s at -O3, and at -O2 stochastic training 3x3 took 1.67x as long: they
# keep -O3. docs/performance.md ("Build time") has the measurements.
CHEAPER_LEVEL = {"_window": ["-O2", "-ftree-vectorize", "-fvect-cost-model=dynamic",
                             "-funswitch-loops", "--param=max-inline-insns-single=120"]}

# A baseline module whose AVX2 twin is built beside it runs only on x86-64 CPUs without AVX2
# (the twin is picked at import everywhere else), and there its level here: _window's set at
# -O2's own inlining limit. Its baseline build took 173 s of GCC's time side by side with
# another compile, 138 s at this level (2026-12-03, docs/performance.md "Build time: the
# fallback build"). Forced to run (CPOOL_KERNELS=baseline), 21 bench cases took 0.80-1.27x
# of their time at the twin's level in single runs, the two over 1.1 back at 0.98-1.05 in a
# longer rerun (the host's noise), but for 3-D max 3x3x3, 1.06-1.11x in all three runs (its
# row helpers become calls, as in the AVX2 build at this level). Where no twin is built (other CPUs, CPOOL_NO_AVX2=1) the baseline is the only
# build and keeps CHEAPER_LEVEL.
FALLBACK_LEVEL = {"_window": ["-O2", "-ftree-vectorize", "-fvect-cost-model=dynamic",
                              "-funswitch-loops"]}


def _level_flags(module, compiler=None, fallback=False):
    """The optimisation level flags of kernel ``module`` (its AVX2 twin's are its own): -O3
    where the cheaper set is not this module's, or where ``compiler`` (when given) rejects it
    (a compiler without GCC's ``--param`` or loop options). ``fallback``: ``module`` is a
    baseline build with its AVX2 twin beside it, which takes ``FALLBACK_LEVEL`` where it has
    an entry."""
    if fallback and module in FALLBACK_LEVEL:
        levels = [(module, FALLBACK_LEVEL[module])]
    else:
        levels = list(CHEAPER_LEVEL.items())
    for name, flags in levels:
        if module in (name, avx2_twin(name)):
            if compiler is None or _builds(compiler, "int cpool_probe(void) { return 0; }\n",
                                           ["-Werror"] + flags):
                return flags
    return ["-O3"]


def _with_ccache(compiler):
    """Put ccache in front of the C compiler when it is installed and CC does not choose one."""
    ccache = shutil.which("ccache")
    if ccache is None or "CC" in os.environ or compiler.compiler_type != "unix":
        return
    for attr in ("compiler_so", "compiler"):
        command = getattr(compiler, attr, None)
        if command and os.path.basename(command[0]) != "ccache":
            setattr(compiler, attr, [ccache] + list(command))


def _touch(path):
    """Mark a cache entry as just used (the cache keeps the newest entries)."""
    try:
        os.utime(path)
    except OSError:
        pass


def _newest_only(entries, count=2):
    """Remove all but the ``count`` most recently used of the cache ``entries`` (files or
    folders): a branch's build and main's, which asv and the CI gate build in turn."""
    for old in sorted(entries, key=os.path.getmtime, reverse=True)[count:]:
        if os.path.isdir(old):
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.remove(old)


def _with_headers(directories):
    """The include directories that hold any file. A virtual environment's own include/ is
    on every build's list and empty: its path alone would keep a build made in one
    environment (asv's, the CI gate's) from being reused in another of the same Python."""
    return [d for d in directories or []
            if any(files for _, _, files in os.walk(d))]


class BuildExtWithOpenMP(build_ext):
    def _cache_key(self, ext):
        """A digest of everything a built extension depends on: its sources (the generated C,
        which holds the Cython sources and their includes), the compile and link commands and
        flags, and the target's file name (Python version and ABI)."""
        digest = hashlib.sha256()
        for source in ext.sources:
            with open(source, "rb") as f:
                digest.update(f.read())
        parts = [ext.name, os.path.basename(self.get_ext_filename(ext.name)),
                 *getattr(self.compiler, "compiler_so", [self.compiler.compiler_type]),
                 *getattr(self.compiler, "linker_so", []), *ext.extra_compile_args,
                 *ext.extra_link_args, repr(ext.define_macros),
                 repr(_with_headers(ext.include_dirs)), repr(_with_headers(self.include_dirs))]
        digest.update("\0".join(map(str, parts)).encode())
        return digest.hexdigest()[:24]

    def build_extension(self, ext):
        if not BUILD_CACHE:
            return super().build_extension(ext)
        target = self.get_ext_fullpath(ext.name)
        suffix = os.path.basename(self.get_ext_filename(ext.name)).split(".", 1)[1]
        cached = os.path.join(BUILD_CACHE, f"{ext.name}.{self._cache_key(ext)}.{suffix}")
        if os.path.exists(cached):
            os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
            # A copy with a fresh modification time (not copy2's, the entry's): an in-place or
            # editable build then copies the target over the tree's extension only if the
            # target is newer, so an entry older than the tree's extension (back on a branch
            # built before) left the other branch's kernels in place.
            shutil.copyfile(cached, target)
            shutil.copymode(cached, target)
            _touch(cached)
            print(f"cpool: reused {ext.name} from {BUILD_CACHE}")
            return None
        # A miss: compile, even where distutils finds the target newer than its sources (it
        # does not compare flags), since that target may come from other flags and would be
        # stored under this key (a stale build, reused from then on).
        force, self.force = self.force, True
        try:
            super().build_extension(ext)
        finally:
            self.force = force
        try:  # best effort: a read-only tree just builds every time
            os.makedirs(BUILD_CACHE, exist_ok=True)
            partial = f"{cached}.{os.getpid()}.tmp"
            shutil.copy2(target, partial)
            os.replace(partial, cached)
            _touch(cached)
            _newest_only([os.path.join(BUILD_CACHE, name) for name in os.listdir(BUILD_CACHE)
                          if name.startswith(ext.name + ".") and name.endswith(suffix)])
        except OSError:
            pass
        return None

    def build_extensions(self):
        _with_ccache(self.compiler)
        msvc = self.compiler.compiler_type == "msvc"
        flag = "/openmp" if msvc else "-fopenmp"
        opt = _optimisation_flags(self.compiler)
        use_openmp = os.environ.get("CPOOL_NO_OPENMP", "0") in ("", "0") and _compiler_supports_openmp(
            self.compiler, flag, opt
        )
        if not use_openmp:
            message = "cpool: OpenMP is not available; building serial kernels (cpool.openmp_enabled() is False)."
            if os.environ.get("CPOOL_FAIL_NO_OPENMP", "0") not in ("", "0"):
                sys.exit(message)
            warnings.warn(message)
        # The AVX2 variants: GCC/Clang on x86-64 only (the import-time CPU check uses
        # __builtin_cpu_supports, which MSVC lacks), and not when asked to skip them.
        avx2 = (not msvc and platform.machine().lower() in ("x86_64", "amd64")
                and os.environ.get("CPOOL_NO_AVX2", "0") in ("", "0"))
        if not avx2:
            self.extensions = [ext for ext in self.extensions if not ext.name.endswith("_avx2")]
        for ext in self.extensions:
            simd = [AVX2_FLAG] if ext.name.endswith("_avx2") else []
            module = ext.name.rsplit(".", 1)[1]
            level = [] if msvc else _level_flags(module, self.compiler,
                                                 fallback=avx2 and module in SIMD_KERNELS)
            ext.extra_compile_args = level + opt + simd + ([flag] if use_openmp else [])
            ext.extra_link_args = [flag] if use_openmp and not msvc else []
        self.parallel = self.parallel or os.cpu_count() or 1  # compile the modules concurrently
        # The longest compiles first, by the size of their C (an AVX2 twin before its baseline:
        # wider vectors, more code), so that the two _window builds take both cores at once
        # and the short modules fill in after them. In KERNELS' order _w_avx2 waited behind
        # _global, _stochastic and _backward, and one core idled for the build's last 36 s.
        self.extensions = _largest_first(self.extensions)
        super().build_extensions()


extensions = [Extension(f"cpool._kernels.{name}", [f"cpool/_kernels/{name}.pyx"])
              for name in KERNELS]


def _cython_key():
    """A digest of what Cython's output depends on: the kernel sources (.pyx, .pxd), the
    directives and Cython's version (its own .pxd files come with the version)."""
    import glob

    import Cython

    digest = hashlib.sha256(f"{Cython.__version__}\0{sorted(DIRECTIVES.items())}".encode())
    for path in sorted(glob.glob(os.path.join(KERNEL_DIR, "*.p[yx][xd]"))):
        with open(path, "rb") as f:
            digest.update(path.encode() + b"\0" + f.read())
    return digest.hexdigest()


def _largest_first(extensions):
    """``extensions`` by the size of their source, largest first (an AVX2 twin before its
    baseline, the same C with wider vectors and more code to compile): the order to start
    their translation or compilation on a few cores, since the largest takes the longest."""
    return sorted(extensions, key=lambda ext: (-os.path.getsize(ext.sources[0]),
                                               not ext.name.endswith("_avx2")))


def _translate(extensions):
    """Cython's translation of ``extensions``, each module in a process of its own, the
    largest source first.

    cythonize's own pool (``nthreads``) takes the modules in the order of their paths, which
    put _window (the longest by far, 51 s alone) last: it started after _backward, and the
    other core idled for the end of the step (90 s; 53 s in this order)."""
    workers = min(len(extensions), os.cpu_count() or 1)
    pool = None
    if workers > 1:
        try:
            pool = concurrent.futures.ProcessPoolExecutor(workers)
        except (NotImplementedError, OSError):  # no process pools here (no sem_open)
            pass
    if pool is None:
        return cythonize(extensions, compiler_directives=DIRECTIVES, force=True)
    order = _largest_first(extensions)
    with pool:
        jobs = [pool.submit(cythonize, [ext], compiler_directives=DIRECTIVES, force=True)
                for ext in order]
        built = {ext.name: ext for job in jobs for ext in job.result()}
    return [built[ext.name] for ext in extensions]


def cythonized(extensions):
    """``extensions`` with their generated C as sources: Cython's output of an earlier build
    when the key of its inputs is unchanged, else cythonize's.

    cythonize judges by modification times, and pip installs Cython afresh into each build's
    isolated environment: its bundled .pxd files (libc/string.pxd) were always newer than the
    C, so every install cythonized everything again (51 s of a 53 s reinstall). The output is
    also kept in the build cache under its key, so a fresh checkout of the same kernels (asv's
    build of another commit, the CI gate's build of the previous one) skips Cython too.
    """
    stamp = os.path.join(HERE, "build", "cython-key")
    key = _cython_key()
    names = [ext.name.rsplit(".", 1)[1] + ".c" for ext in extensions]
    sources = [os.path.join(KERNEL_DIR, name) for name in names]
    kept = os.path.join(BUILD_CACHE, "cython", key) if BUILD_CACHE else None

    def use_sources():
        for ext, c in zip(extensions, sources):
            ext.sources = [c]
        return extensions

    if os.path.exists(stamp) and all(os.path.exists(c) for c in sources):
        with open(stamp) as f:
            if f.read() == key:
                if kept and not os.path.isdir(kept):
                    _keep(sources, kept)
                return use_sources()
    if kept and all(os.path.exists(os.path.join(kept, name)) for name in names):
        for name, c in zip(names, sources):
            shutil.copyfile(os.path.join(kept, name), c)
        _touch(kept)
        built = use_sources()
    else:
        built = _translate(extensions)
        if kept:
            _keep(sources, kept)
    try:
        os.makedirs(os.path.dirname(stamp), exist_ok=True)
        with open(stamp, "w") as f:
            f.write(key)
    except OSError:
        pass
    return built


def _keep(files, directory):
    """Copy ``files`` into ``directory`` for later builds, whole or not at all, and drop all
    but the newest two of its siblings (``_newest_only``). A cache is only an optimisation: a
    read-only or full disk leaves the build as it was."""
    parent = os.path.dirname(directory)
    partial = None
    try:
        os.makedirs(parent, exist_ok=True)
        partial = tempfile.mkdtemp(dir=parent, prefix=".partial-")
        for path in files:
            shutil.copyfile(path, os.path.join(partial, os.path.basename(path)))
        os.replace(partial, directory)
        _touch(directory)
        _newest_only([os.path.join(parent, name) for name in os.listdir(parent)
                      if not name.startswith(".")])
    except OSError:
        pass
    finally:
        if partial is not None:  # left only when the copy or the rename failed
            shutil.rmtree(partial, ignore_errors=True)


# setuptools runs this file as __main__ (pip, build, `python setup.py`); the guard lets the
# tests load the probes above without building anything.
if __name__ == "__main__":
    extensions = cythonized(extensions)
    extensions += [Extension(f"cpool._kernels.{avx2_twin(name)}", [write_avx2_twin_source(name)],
                             define_macros=[("CYTHON_COMPRESS_STRINGS", "0")])
                   for name in SIMD_KERNELS]
    setup(ext_modules=extensions, cmdclass={"build_ext": BuildExtWithOpenMP})
