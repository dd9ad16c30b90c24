"""float16 input by slabs against one whole conversion, at each thread count: the measurement
behind the slab rule (``_validation._SLABS_ALWAYS_THREADS`` and ``_WHOLE_COPY_BYTES``).

    python asv_bench/slab_rule.py OUT.json [THREADS ...]     (default threads: 2 4 8 16)

Each row times one op on one float16 input three ways, the minimum over rounds: the rule as
built ("default"), slabs at every size ("slabs") and one whole conversion ("whole"). Two
cores cannot say what the rule should be past two threads: run it on a larger machine
(asv_bench/many_cores.sh).
"""
import json
import sys

import numpy as np

import cpool
from cpool import _validation
from cpool._bench import _time

SHAPES = [(4, 256, 56, 56), (12, 256, 56, 56), (32, 256, 56, 56)]
OPS = {
    "max2": lambda x, n: cpool.max_pool2d(x, 2, num_threads=n),
    "avg3s1": lambda x, n: cpool.avg_pool2d(x, 3, 1, 1, num_threads=n),
    "gavg": lambda x, n: cpool.global_avg_pool2d(x, num_threads=n),
}
# (slabs past this many threads, whole copies up to this many bytes) for each way
BUILT = (_validation._SLABS_ALWAYS_THREADS, _validation._WHOLE_COPY_BYTES)
RULES = {"default": BUILT, "slabs": (1 << 30, BUILT[1]), "whole": (0, 1 << 60)}


def main(argv):
    threads = [int(a) for a in argv[1:]] or [2, 4, 8, 16]
    rng = np.random.default_rng(0)
    rows = []
    try:
        for shape in SHAPES:
            x = rng.standard_normal(shape).astype(np.float16)
            for name, op in OPS.items():
                for n in threads:
                    ms = {}
                    for rule, (always, whole_bytes) in RULES.items():
                        _validation._SLABS_ALWAYS_THREADS = always
                        _validation._WHOLE_COPY_BYTES = whole_bytes
                        ms[rule] = _time(lambda: op(x, n), 5, min_time=0.01) * 1e3
                    rows.append(dict(shape=shape, op=name, threads=n, **ms))
                    print(f"{str(shape):18s} {name:7s} {n:3d}t  default {ms['default']:8.3f}  "
                          f"slabs {ms['slabs']:8.3f}  whole {ms['whole']:8.3f} ms  "
                          f"slabs/whole {ms['slabs'] / ms['whole']:.2f}", flush=True)
    finally:
        _validation._SLABS_ALWAYS_THREADS, _validation._WHOLE_COPY_BYTES = BUILT
        with open(argv[0], "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
