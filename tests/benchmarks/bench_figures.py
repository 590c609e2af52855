"""Benchmark: a 4 x 4 `methods` figure as PDF against computing its 16 maps alone.

    python tests/benchmarks/bench_figures.py [--repeat 2] [--methods gradcam,gradcam++,...]

VGG16 with random weights (builtin:vgg16?weights=none), four 224-px-class sample photos
(convscope/resources/samples), four methods on the default layer (block5_conv3), CPU. Both sides run
in this process after one warm-up (tracing excluded); each time is the best of --repeat.
"maps alone" = ConvModel.cam on the four images, once per method (what the figure needs);
"figure" = make_figure(...) writing the PDF: the same maps plus the class probabilities,
the drawing and the file. Goal (issue 8): figure <= 1.2 x maps + 1 s, PDF < 3 MB.
Under CPU contention absolute times are noisy; the ratio is the number to read.
Not run by CI (tests/benchmarks is excluded from pytest's collection).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from timing import best  # noqa: E402  (tests/benchmarks/timing.py)

SAMPLES = os.path.join(ROOT, "convscope", "resources", "samples")
PHOTOS = ("cat.jpg", "coffee.jpg", "astronaut.jpg", "rocket.jpg")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--methods", default="gradcam,gradcam++,layercam,faster-scorecam")
    p.add_argument("--model", default="builtin:vgg16?weights=none")
    p.add_argument("--native", action="store_true",
                   help="the photos at their own size (451-640 px) instead of 224 x 224")
    args = p.parse_args()

    from convscope.engine import load_image, open_model
    from convscope.engine.figures import FigureOptions, FigureSpec, make_figure

    methods = tuple(args.methods.split(","))
    model = open_model(args.model)
    paths = tuple(os.path.join(SAMPLES, n) for n in PHOTOS)
    if not args.native:  # the case: 224-px images (what VGG16 sees)
        import cv2
        from PIL import Image

        folder = tempfile.mkdtemp(prefix="bench-fig-224-")
        small = []
        for p_ in paths:
            px = cv2.resize(load_image(p_).pixels, (224, 224), interpolation=cv2.INTER_AREA)
            small.append(os.path.join(folder, os.path.splitext(os.path.basename(p_))[0] + ".png"))
            Image.fromarray(px).save(small[-1])
        paths = tuple(small)
    images = [load_image(p) for p in paths]
    spec = FigureSpec(kind="methods", images=paths, methods=methods)
    options = FigureOptions(width="double", panel_labels=True)
    out = os.path.join(tempfile.mkdtemp(prefix="bench-fig-"), "methods.pdf")

    def maps_alone():
        for m in methods:
            model.cam(images, method=m)

    def figure():
        make_figure(model, spec, options, out=out, images=images)

    maps_alone()  # warm-up: traces every compiled function both sides use
    figure()
    t_maps = best(maps_alone, args.repeat, warm=False)  # warmed up just above
    t_fig = best(figure, args.repeat, warm=False)
    size = os.path.getsize(out)
    goal = 1.2 * t_maps + 1.0
    side = "x".join(map(str, images[0].size))
    print(f"model {model.name}, {len(images)} images ({side} px first) x {len(methods)} methods "
          f"({', '.join(methods)}), default layer {model.default_cam_layer}")
    print(f"16 maps alone        {t_maps:8.2f} s")
    print(f"methods figure (PDF) {t_fig:8.2f} s   = {t_fig / t_maps:.2f} x the maps, "
          f"{t_fig - t_maps:+.2f} s   (goal <= 1.2 x + 1 s = {goal:.2f} s: "
          f"{'met' if t_fig <= goal else 'NOT met'})")
    print(f"PDF size             {size / 1e6:8.2f} MB  (goal < 3 MB: {'met' if size < 3e6 else 'NOT met'})")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
