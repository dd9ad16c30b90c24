"""The baseline and AVX2 kernel builds (see cpool/_kernels/__init__.py) give bitwise identical
results (NaNs in the same places; see below for their signs): every op over a grid of
geometries and dtypes, run once per build in a subprocess."""
import os
import shutil
import subprocess
import sys
import sysconfig

import numpy as np
import pytest

import cpool._kernels
from cpool._kernels import _openmp

HERE = os.path.dirname(__file__)


def run_battery(kernels, path):
    env = dict(os.environ, CPOOL_KERNELS=kernels)
    subprocess.run([sys.executable, os.path.join(HERE, "_kernel_battery.py"), str(path)],
                   env=env, cwd=HERE, check=True)
    return np.load(path)


@pytest.mark.skipif(not (_openmp.cpu_has_avx2() and cpool._kernels._avx2_built()),
                    reason="the AVX2 kernels are not built or cannot run on this CPU")
def test_avx2_build_matches_baseline_bitwise(tmp_path):
    base = run_battery("baseline", tmp_path / "baseline.npz")
    avx2 = run_battery("avx2", tmp_path / "avx2.npz")
    assert str(base["__simd__"]) == "baseline" and str(avx2["__simd__"]) == "avx2"
    assert sorted(base.files) == sorted(avx2.files) and len(base.files) > 500
    for name in base.files:
        if name == "__simd__":
            continue
        a, b = base[name], avx2[name]
        assert a.dtype == b.dtype and a.shape == b.shape, name
        if a.dtype.kind == "f" and name.startswith("bits/"):
            # Maxima over NaNs of several payloads: every bit, NaNs' included.
            np.testing.assert_array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}"),
                                          err_msg=name)
        elif a.dtype.kind == "f":
            # NaN where NaN, and elsewhere the same bits (signs of zero included). A NaN's own
            # sign may differ: where NaNs of both signs meet in a sum (an input's NaN and one
            # made by inf - inf, say), the one that comes out is the first operand's, and
            # which operand is first the compiler chooses (addition commutes; IEEE 754 leaves
            # the NaN open), so the two builds' code may disagree.
            nan = np.isnan(a)
            np.testing.assert_array_equal(nan, np.isnan(b), err_msg=name)
            np.testing.assert_array_equal(a[~nan].view(f"u{a.itemsize}"),
                                          b[~nan].view(f"u{b.itemsize}"), err_msg=name)
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_choice_can_be_forced_and_bad_values_warn():
    code = "import cpool._kernels as k; print(k.SIMD, k.window.__name__)"
    for want in ("baseline", "bogus"):
        env = dict(os.environ, CPOOL_KERNELS=want)
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                              check=True)
        simd, module = done.stdout.split()
        if want == "baseline":
            assert simd == "baseline" and module == "cpool._kernels._window"
        else:
            assert "CPOOL_KERNELS='bogus'" in done.stderr
            assert simd in ("baseline", "avx2")
            assert module == ("cpool._kernels._w_avx2" if simd == "avx2" else
                              "cpool._kernels._window")


SETUP_PY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "setup.py")


@pytest.fixture(scope="module")
def setup_py():
    """setup.py's globals (its compiler probes and build-cache helpers), run once for this
    module without building anything."""
    if not os.path.exists(SETUP_PY):
        pytest.skip("needs the source tree's setup.py")
    pytest.importorskip("Cython")
    import runpy

    return runpy.run_path(SETUP_PY, run_name="cpool_setup_probes")


def test_openmp_probe_builds_with_the_extensions_flags(setup_py, monkeypatch):
    # With sanitizer flags in CFLAGS/LDFLAGS the probe used to link an executable without them,
    # fail, and leave a silently serial build. It is now built as the extensions are.
    ccompiler = pytest.importorskip("setuptools._distutils.ccompiler")
    sysconfig = pytest.importorskip("setuptools._distutils.sysconfig")
    for flags in ("", "-fsanitize=address,undefined -fno-omit-frame-pointer"):
        monkeypatch.setenv("CFLAGS", flags)
        monkeypatch.setenv("LDFLAGS", flags)
        compiler = ccompiler.new_compiler()
        sysconfig.customize_compiler(compiler)
        if compiler.compiler_type == "msvc":
            pytest.skip("GCC/Clang flags")
        if not setup_py["_builds"](compiler, "int f(void) { return 0; }\n", [], []):
            pytest.skip(f"this compiler cannot build a shared object with {flags!r}")
        opt = setup_py["_optimisation_flags"](compiler)
        assert setup_py["_compiler_supports_openmp"](compiler, "-fopenmp", opt), flags


def test_optimisation_levels(setup_py):
    # _window (most of the build's compile time) is built at the cheaper level, its AVX2 twin
    # likewise; the level keeps loop unswitching, which the kernels' flag tests rely on for
    # their speed. The other modules stay at -O3.
    level = setup_py["_level_flags"]
    assert level("_window") == level(setup_py["avx2_twin"]("_window"))
    assert "-O2" in level("_window") and "-funswitch-loops" in level("_window")
    assert "-ftree-vectorize" in level("_window")
    for name in set(setup_py["KERNELS"]) - {"_window"}:
        assert level(name) == level(setup_py["avx2_twin"](name)) == ["-O3"], name
        assert level(name, fallback=True) == ["-O3"], name
    # Beside its AVX2 twin, the baseline _window (run only by CPUs without AVX2) is built at
    # -O2's own inlining limit, keeping the vectoriser and unswitching; alone, at the twin's.
    fallback = level("_window", fallback=True)
    assert fallback != level("_window")
    assert "-O2" in fallback and "-funswitch-loops" in fallback and "-ftree-vectorize" in fallback
    assert not any(flag.startswith("--param=max-inline") for flag in fallback)
    # A compiler that rejects the set gets -O3; GCC (the build here) takes it.
    ccompiler = pytest.importorskip("setuptools._distutils.ccompiler")
    sysconfig = pytest.importorskip("setuptools._distutils.sysconfig")
    compiler = ccompiler.new_compiler()
    sysconfig.customize_compiler(compiler)
    if compiler.compiler_type == "msvc":
        pytest.skip("GCC/Clang flags")
    if "gcc" in os.path.basename(compiler.compiler_so[0]):
        assert level("_window", compiler) == level("_window")
        assert level("_window", compiler, fallback=True) == fallback
    saved = dict(setup_py["CHEAPER_LEVEL"])
    try:
        setup_py["CHEAPER_LEVEL"]["_window"] = ["-O2", "--param=no-such-param-cpool=1"]
        assert level("_window", compiler) == ["-O3"]
    finally:
        setup_py["CHEAPER_LEVEL"].clear()
        setup_py["CHEAPER_LEVEL"].update(saved)


@pytest.mark.skipif(not (_openmp.cpu_has_avx2() and cpool._kernels._avx2_built()),
                    reason="the AVX2 kernels are not built or cannot run on this CPU")
def test_avx2_twins_are_modules_of_their_own():
    """Each AVX2 module is compiled from its baseline's generated C with the module renamed
    (setup.py's write_avx2_twin_source): it must be a module of its own name, with the same
    functions, registered under its name only."""
    import importlib

    for base_name, twin_name in cpool._kernels._MODULES.values():
        base = importlib.import_module("cpool._kernels." + base_name)
        twin = importlib.import_module("cpool._kernels." + twin_name)
        assert twin is not base and twin.__name__ == "cpool._kernels." + twin_name
        public = sorted(n for n in dir(base) if not n.startswith("_"))
        assert public == sorted(n for n in dir(twin) if not n.startswith("_")) and public
        for name in public:
            if callable(getattr(twin, name)) and hasattr(getattr(twin, name), "__module__"):
                assert getattr(twin, name).__module__ == twin.__name__, name
    # With the AVX2 set chosen, no baseline module is imported: a twin must not register
    # itself under its baseline's name (Cython's modules add themselves to sys.modules).
    code = ("import sys, cpool; "
            "print(any(m in sys.modules for m in ('cpool._kernels._window', "
            "'cpool._kernels._global', 'cpool._kernels._stochastic', 'cpool._kernels._backward')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env=dict(os.environ, CPOOL_KERNELS="avx2"))
    assert done.stdout.strip() == "False"


def test_cython_output_cache_keeps_whole_generations(setup_py, tmp_path):
    # setup.py keeps Cython's output under the key of its inputs (build cache/cython/KEY) so a
    # fresh checkout of the same kernels (asv's next commit, the CI gate's base) skips Cython.
    # A kept generation is whole or absent, and only the newest two stay.
    import time

    files = []
    for name in ("_window.c", "_global.c"):
        (tmp_path / name).write_text(name)
        files.append(str(tmp_path / name))
    cache = tmp_path / "cache" / "cython"
    for key in ("k1", "k2", "k3"):
        setup_py["_keep"](files, str(cache / key))
        time.sleep(0.01)  # distinct modification times order the generations
    assert sorted(os.listdir(cache)) == ["k2", "k3"]
    assert sorted(os.listdir(cache / "k3")) == ["_global.c", "_window.c"]
    assert (cache / "k3" / "_window.c").read_text() == "_window.c"
    setup_py["_keep"](files + [str(tmp_path / "missing.c")], str(cache / "k4"))  # a failed copy
    assert sorted(os.listdir(cache)) == ["k2", "k3"]  # nothing half-kept, no partial left


def test_largest_module_first(setup_py, tmp_path, monkeypatch):
    # Cython's translation and the compiles start with the largest module (an AVX2 twin before
    # its baseline), so that the long ones (_window's translation, both _window compiles) do
    # not wait behind the short ones while a core idles. Results keep the caller's order.
    import concurrent.futures

    from setuptools import Extension

    def module(name, size, ext="pyx"):
        path = tmp_path / f"{name}.{ext}"
        path.write_bytes(b"#" * size)
        return Extension(f"cpool._kernels.{name}", [str(path)])

    pyx = [module("_openmp", 3), module("_window", 107), module("_global", 35)]
    c = [module("_global", 90, "c"), module("_window", 200, "c"), module("_w_avx2", 200, "c"),
         module("_g_avx2", 90, "c")]
    names = setup_py["_largest_first"]
    assert [e.name[15:] for e in names(c)] == ["_w_avx2", "_window", "_g_avx2", "_global"]

    submitted = []

    class InlinePool:  # ProcessPoolExecutor's interface, running nothing
        def __init__(self, workers):
            assert workers == 2

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def submit(self, translate, exts, **options):
            assert translate is setup_py["cythonize"] and options["force"]
            submitted.append(exts[0].name[15:])
            job = concurrent.futures.Future()
            job.set_result([Extension(exts[0].name, [exts[0].sources[0][:-3] + "c"])])
            return job

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", InlinePool)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    built = setup_py["_translate"](pyx)
    assert submitted == ["_window", "_global", "_openmp"]
    assert [(e.name, e.sources) for e in built] == [
        (e.name, [e.sources[0][:-3] + "c"]) for e in pyx]

    # Where no process pool can start (no sem_open), one cythonize call translates them all.
    def no_pool(workers):
        raise OSError("no semaphores")

    serial = []
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_pool)
    monkeypatch.setitem(setup_py["_translate"].__globals__, "cythonize",
                        lambda exts, **options: serial.append(exts) or exts)
    assert setup_py["_translate"](pyx) == pyx and serial == [pyx]


def test_build_key_ignores_empty_include_directories(setup_py, tmp_path):
    # A virtual environment's empty include/ must not keep asv's or the CI gate's build from
    # reusing an extension built in another environment of the same Python; a directory
    # with headers stays in the key.
    empty, nested, headers = tmp_path / "venv1", tmp_path / "venv2", tmp_path / "headers"
    (nested / "include" / "python3.11").mkdir(parents=True)
    empty.mkdir()
    (headers / "sub").mkdir(parents=True)
    (headers / "sub" / "x.h").write_text("#define X 1\n")
    dirs = [str(empty), str(nested / "include"), str(headers), str(tmp_path / "missing")]
    assert setup_py["_with_headers"](dirs) == [str(headers)]
    assert setup_py["_with_headers"](None) == []


def test_build_cache_keeps_the_two_most_recently_used_entries(setup_py, tmp_path):
    # Built extensions are files in the cache, Cython's outputs folders; both keep the two
    # most recently used (a reused entry counts as used), so main's and a branch's builds
    # survive each other.
    entries = []
    for i, name in enumerate(("a.so", "b.so", "c.so")):
        path = tmp_path / name
        path.write_bytes(b"x")
        os.utime(path, (1000 + i, 1000 + i))
        entries.append(str(path))
    setup_py["_touch"](entries[0])  # "a" reused just now: the newest
    setup_py["_newest_only"](entries)
    assert sorted(os.listdir(tmp_path)) == ["a.so", "c.so"]


def test_reused_build_is_newer_than_the_trees_extension(setup_py, tmp_path, monkeypatch):
    # setuptools copies a built extension into the tree (in-place and editable builds) only
    # when it is newer than the one there. A reused cache entry must therefore arrive with a
    # fresh modification time: with the entry's own, going back to a branch built before kept
    # the other branch's (newer) extension in the tree.
    import types

    cache, target, tree = tmp_path / "cache", tmp_path / "build" / "k.so", tmp_path / "tree.so"
    cache.mkdir()
    entry = cache / "cpool._kernels.k.KEY.so"
    entry.write_bytes(b"main's build")
    os.utime(entry, (1000, 1000))
    tree.write_bytes(b"the branch's build")  # copied into the tree by the last build
    build_extension = setup_py["BuildExtWithOpenMP"].build_extension
    monkeypatch.setitem(build_extension.__globals__, "BUILD_CACHE", str(cache))
    fake = types.SimpleNamespace(get_ext_fullpath=lambda name: str(target),
                                 get_ext_filename=lambda name: "k.so",
                                 _cache_key=lambda ext: "KEY")
    build_extension(fake, types.SimpleNamespace(name="cpool._kernels.k"))
    assert target.read_bytes() == b"main's build"
    assert os.path.getmtime(target) >= os.path.getmtime(tree)


def test_cache_miss_compiles_even_a_target_newer_than_its_sources(setup_py, tmp_path,
                                                                   monkeypatch):
    # distutils skips an extension whose target is newer than its sources, without looking at
    # the flags. A cache miss (new flags, say) must compile anyway: the skipped target, built
    # with the old flags, was stored under the new key and reused from then on.
    import types

    from setuptools import Distribution

    cls = setup_py["BuildExtWithOpenMP"]
    target = tmp_path / "build" / "k.so"
    seen = []

    def parent_build_extension(self, ext):
        seen.append(self.force)
        if self.force:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"new flags")

    monkeypatch.setattr(setup_py["build_ext"], "build_extension", parent_build_extension)
    monkeypatch.setitem(cls.build_extension.__globals__, "BUILD_CACHE", str(tmp_path / "cache"))
    command = cls(Distribution())
    command.force = False
    monkeypatch.setattr(command, "get_ext_fullpath", lambda name: str(target))
    monkeypatch.setattr(command, "get_ext_filename", lambda name: "k.so")
    monkeypatch.setattr(command, "_cache_key", lambda ext: "NEWKEY")
    command.build_extension(types.SimpleNamespace(name="cpool._kernels.k"))
    assert seen == [True] and command.force is False
    assert (tmp_path / "cache" / "cpool._kernels.k.NEWKEY.so").read_bytes() == b"new flags"


# The x86 SIMD macros a compiler predefines; without them the kernels' C takes its portable
# branch, as on a CPU without SSE2 (ARM, say).
X86_SIMD_MACROS = ("__SSE__", "__SSE2__", "__SSE3__", "__SSSE3__", "__SSE4_1__", "__SSE4_2__",
                   "__AVX__", "__AVX2__", "__FMA__", "__AVX512F__")


@pytest.mark.parametrize("module", ["_window", "_global", "_stochastic", "_backward"])
def test_portable_branch_compiles(module):
    """Every helper a kernel module calls is defined in the portable branch too: the AVX2-only
    kernels' stubs once stood inside the SSE2 branch, so a build for a CPU without SSE2 had
    neither (CPOOL_STOCH_S2 undeclared, cpool_stoch_s2_f32 and others implicit). The module's
    generated C, checked by GCC (syntax and declarations only, under a second) with the x86
    SIMD macros undefined and implicit declarations as errors."""
    source = os.path.join(HERE, os.pardir, "cpool", "_kernels", module + ".c")
    gcc = shutil.which("gcc")
    if gcc is None or not os.path.exists(source):
        pytest.skip("needs GCC and the generated C (an in-place or editable build)")
    undefine = [f"-U{m}" for m in X86_SIMD_MACROS]
    result = subprocess.run(
        [gcc, "-fsyntax-only", "-fopenmp", "-Werror=implicit-function-declaration", *undefine,
         "-I", sysconfig.get_paths()["include"], "-I", np.get_include(), source],
        capture_output=True, text=True)
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert result.returncode == 0 and not errors, "\n".join(errors[:10])


def _prange_bodies(source):
    """(line number, body lines) of each ``for ... in prange(...)`` loop of Cython ``source``:
    the lines after the loop's header indented deeper than its ``for``."""
    lines = source.splitlines()
    for i, line in enumerate(lines):
        if " in prange(" not in line:
            continue
        indent = len(line) - len(line.lstrip())
        j = i
        while not lines[j].rstrip().endswith(":"):  # the header's continuation lines
            j += 1
        body = []
        for later in lines[j + 1:]:
            if later.strip() and len(later) - len(later.lstrip()) <= indent:
                break
            body.append(later.split("#")[0])
        yield i + 1, body


def test_prange_bodies_pass_only_their_own_variables_by_address():
    # Cython makes a variable private to each thread when the prange body assigns it; one the
    # body only passes by address (``f(&n)``) stays shared among the threads, and two threads
    # then write it at once. That raced in the channels-last global kernels (68ded25 to
    # 2026-12-06: wrong sums at two threads). Every ``&name`` of a plain variable (not an
    # element, ``&x[i]``) in a prange body must be one the body assigns.
    import re
    kernels = os.path.dirname(cpool._kernels.__file__)
    found = 0
    for name in sorted(os.listdir(kernels)):
        if not name.endswith((".pyx", ".pxd")):
            continue
        with open(os.path.join(kernels, name)) as f:
            source = f.read()
        for line_no, body in _prange_bodies(source):
            found += 1
            text = "\n".join(body)
            assigned = {v for chain in re.findall(r"^\s*((?:\w+\s*(?:=|\+=|-=)(?!=)\s*)+)",
                                                  text, re.M)
                        for v in re.findall(r"\w+", chain)}  # a = b = 0 assigns both
            assigned |= set(re.findall(r"\bfor\s+(\w+)\s+in\b", text))
            for var in set(re.findall(r"&(\w+)\b(?!\s*\[)", text)):
                assert var in assigned, (f"{name}:{line_no}: the prange body passes &{var} "
                                         f"but never assigns {var}: it is shared by the threads")
    assert found >= 20  # every kernel module's loops were read
