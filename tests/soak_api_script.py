"""300 m.cam calls from a fresh Python process, as a user's script or notebook makes them
(tests/test_soak_api.py runs this): the demo model, a new image of a new size each call,
methods cycling. Prints one JSON line: RSS (MiB) after each call, the cache's budget and
use, the compiled functions' trace counts."""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(calls: int) -> None:
    from convscope.engine.explore import cache as explore
    from convscope.engine import open_model
    from convscope.engine.cam import compute
    from convscope.engine.images import from_array

    m = open_model("demo")
    rng = np.random.default_rng(0)
    methods = ("gradcam", "gradcam++", "layercam", "saliency")
    rss = []
    for i in range(calls):
        h, w = 48 + (i * 37) % 200, 48 + (i * 53) % 200
        img = from_array(rng.integers(0, 255, (h, w, 3), np.uint8), name=f"soak{i}")
        m.cam(img, method=methods[i % len(methods)])
        rss.append(rss_mib())
    fns = [*compute.state(m).fns.values(), *explore.state(m).fns.values()]
    print(json.dumps({"rss": rss, "budget": explore.STORE.budget, "used": explore.STORE.used,
                      "traces": [f.experimental_get_tracing_count() for f in fns
                                 if hasattr(f, "experimental_get_tracing_count")]}))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
