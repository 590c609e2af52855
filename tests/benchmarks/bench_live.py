"""Benchmark: the Live view's engine rate, and `convscope video` against batched Grad-CAM.

    python tests/benchmarks/bench_live.py [--frames 96] [--vgg-frames 32] [--repeat 2]

1. Engine fps in the Live view: LiveFrame jobs run one after another through the engine's
   Worker (exactly what the engine thread does for each frame the view sends: Grad-CAM,
   overlay, top-5), for the demo model (96 x 96 frames) and VGG16 with random weights
   (224 x 224 frames). Compared with compute_cam on one pre-loaded frame at a time (the
   floor for one frame per call).
2. `convscope video` (engine.video.pipeline.explain_video: decode, batched Grad-CAM,
   overlay, caption, encode to .mp4) frames/s, against batched Grad-CAM (compute_cam,
   batches of 8) on frames already decoded in memory. Goal: >= 0.85x.

Same process, same model instances; times are the best of --repeat runs after a warm-up
(tracing excluded). On 2 shared cores absolute numbers are noisy; read the ratios.
Not run by CI (tests/benchmarks is excluded from pytest's collection).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


from timing import best  # noqa: E402  (tests/benchmarks/timing.py)


def bench(name: str, spec: str, size: int, n: int, repeat: int, batch: int, folder: str) -> dict:
    from convscope.engine import from_array, jobs as J
    from convscope.engine.cam import compute, compute_cam
    from convscope.engine.video.demo_clip import make_clip
    from convscope.engine.video.io import read_frames, write_video
    from convscope.engine.video.pipeline import VideoOptions, explain_video
    from convscope.engine.worker import Worker

    worker = Worker()
    worker.run_all(J.StartEngine())
    loaded = worker.run_all(J.LoadModel(spec=spec))[-1]
    assert isinstance(loaded, J.ModelLoaded), loaded
    model = worker.model
    clip_path = os.path.join(folder, f"{name}.mp4")  # what cameras and phones write
    write_video(clip_path, make_clip(n, size, seed=3).frames, 25.0)
    frames, _ = read_frames(clip_path)

    # 1. the Live view's engine: one LiveFrame job per frame
    def live():
        for i, f in enumerate(frames):
            r = worker.run_all(J.LiveFrame(frame=f, index=i, source=name))[-1]
            assert isinstance(r, J.LiveFrameReady), r

    def single():
        compute.clear(model)  # every run computes (the CAM caches key images by identity)
        for f in frames:
            compute_cam(model, from_array(f), "gradcam")

    t_live, t_single = best(live, repeat), best(single, repeat)

    # 2. convscope video vs batched Grad-CAM on pre-loaded frames
    images = [from_array(f) for f in frames]

    def batched():
        compute.clear(model)
        for i in range(0, len(images), batch):
            compute_cam(model, images[i:i + batch], "gradcam")

    out = os.path.join(folder, f"{name}-explained.mp4")
    options = VideoOptions(batch_size=batch)
    t_batched = best(batched, repeat)
    t_video = best(lambda: explain_video(model, clip_path, out, options), repeat)
    return {"name": name, "n": n, "live_fps": n / t_live, "single_fps": n / t_single,
            "batched_fps": n / t_batched, "video_fps": n / t_video}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=96, help="demo model frames")
    p.add_argument("--vgg-frames", type=int, default=32)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--skip-vgg", action="store_true")
    args = p.parse_args(argv)
    from convscope.engine import tf_runtime

    print(f"device: {tf_runtime.init('auto')}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        rows.append(bench("demo", "demo", 96, args.frames, args.repeat, args.batch, folder))
        if not args.skip_vgg:
            rows.append(bench("vgg16", "builtin:vgg16?weights=none", 224, args.vgg_frames,
                              args.repeat, args.batch, folder))
    print()
    print("| model | Live engine fps (Grad-CAM) | vs compute_cam per frame | video frames/s | "
          "batched Grad-CAM frames/s | video / batched |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['live_fps']:.1f} | {r['live_fps'] / r['single_fps']:.2f}x | "
              f"{r['video_fps']:.1f} | {r['batched_fps']:.1f} | "
              f"{r['video_fps'] / r['batched_fps']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
