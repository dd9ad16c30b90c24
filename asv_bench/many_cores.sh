#!/usr/bin/env bash
# The measurements that two cores cannot make, in one command for a machine lent for minutes:
# builds cpool in place if needed, then thread scaling 1-16 (the performance page's "16-core"
# section), the peers at 16 threads, the default count under a full load, and the slab rule
# (asv_bench/slab_rule.py). Every stage has a time limit, so that a slow one costs only itself.
#
#   bash asv_bench/many_cores.sh [build|measure] [OUTDIR]      (OUTDIR: $OUT, else /tmp/many_cores)
#
# "build": build, then the thread tests (tests/test_threads.py) on the real cores; "measure"
# (the default): build if needed, then the measurements. Files in OUTDIR: all.txt (each
# stage's output), results.tgz (each stage's JSON, rewritten after every stage), build.log and
# so.tgz (the built kernels, to carry to a fresh machine of the same Python).
#
# On a machine without the network whose Cython differs from the one that cythonized here,
# carry Cython's output (build/ext-cache/cython) and this machine's Cython as a wheel in .whl/
# (pip download --only-binary=:all: --python-version 3.12 ... Cython==<version>): the build then
# compiles only, with no Cython run (the key of Cython's output includes its version).
set -u -o pipefail
cd "$(dirname "$0")/.."
phase=${1:-measure}
out=${2:-${OUT:-/tmp/many_cores}}
mkdir -p "$out"
res=$(mktemp -d)
export PYTHONUNBUFFERED=1 JAX_PLATFORMS=cpu CUDA_VISIBLE_DEVICES=
python=${PYTHON:-python3}
t0=$(date +%s)
log() { echo "=== [t=$(( $(date +%s) - t0 ))s] $*" | tee -a "$out/all.txt"; }
stage() {  # stage NAME SECONDS CMD...: CMD under a time limit, its output to all.txt
    local name=$1 secs=$2
    shift 2
    log "$name (limit ${secs}s)"
    timeout "$secs" "$@" >> "$out/all.txt" 2>&1
    log "$name rc=$?"
    tar czf "$out/results.tgz" -C "$res" .
}

{ nproc; lscpu | grep -E "Model name|Socket|Core|Thread|NUMA|L1d|L2|L3"; free -g | head -2
  cat /proc/loadavg; gcc --version | head -1
  $python -c "import sys, numpy; print(sys.version.split()[0], 'numpy', numpy.__version__)"
  $python -c "import torch; print('torch', torch.__version__)"
  $python -c "import onnxruntime, cv2, jax; print('onnxruntime', onnxruntime.__version__, 'cv2', cv2.__version__, 'jax', jax.__version__)"
} >> "$out/all.txt" 2>&1

suffix=$($python -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")
if [ ! -e "cpool/_kernels/_window$suffix" ]; then
    log build
    if ls .whl/*.whl > /dev/null 2>&1; then
        $python -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl \
            && export PYTHONPATH=/tmp/site
    fi
    CPOOL_BUILD_CACHE=$PWD/build/ext-cache timeout 400 $python setup.py build_ext --inplace \
        -j "$(nproc)" > "$out/build.log" 2>&1
    log "build rc=$?"
    tar czf "$out/so.tgz" cpool/_kernels/*"$suffix"
fi
$python -c "import cpool; print('cpool', cpool.__version__, 'default threads', cpool.get_num_threads())" \
    2>&1 | tee -a "$out/all.txt" || exit 1

if [ "$phase" = build ]; then
    stage tests 120 $python -m pytest -q -p no:cacheprovider -n0 -x tests/test_threads.py
    exit 0
fi
ops="max2 max3 avg2 avg3 sum2 max2big gavg gmax max2i max3s1w stoch2 stocheval3 max2b avg2b
     gmaxb max2f16 nhwc_max2 nhwc_avg2 max3d2 max1d2 avg1d3 adavg7 lp2 frac2 max2_c avg3_c"
bench="$python -m cpool bench --no-numpy --repeat 3"
# shellcheck disable=SC2086  # $bench and $ops are lists of words
{
stage scale_1_2 90 $bench --threads 1 2 --ops $ops --json "$res/scale_1_2.json"
stage scale_4_8 70 $bench --threads 4 8 --ops $ops --json "$res/scale_4_8.json"
stage scale_16_0 70 $bench --threads 16 0 --ops $ops --json "$res/scale_16_0.json"
stage peers16 100 $bench --peers --threads 16 --ops max2 max3 avg2 avg3 max2big gavg gmax max2b \
    --json "$res/peers16.json"
stage load16 60 $bench --load "$(nproc)" --threads 1 0 --ops max2 avg3 gavg stoch2 max2b \
    --json "$res/load16.json"
stage slab_rule 45 $python asv_bench/slab_rule.py "$res/slab_rule.json"
}
log done
