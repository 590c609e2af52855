"""Write a small labelled folder for `convscope batch` / `examples` from the demo-shapes
generator: OUT/shape_NNNN.png and OUT/list.csv (path, label, x0, y0, x1, y1).

    python scripts/make_shapes_folder.py shapes --n 40
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from convscope.engine.dataset.demo_folder import write_folder  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--n", type=int, default=40)
    p.add_argument("--seed", type=int, default=9000)
    p.add_argument("--size", type=int, default=96)
    a = p.parse_args()
    path = write_folder(a.out, a.n, a.seed, a.size)
    print(f"{a.n} images and their boxes -> {path}")


if __name__ == "__main__":
    main()
