"""Write the demo clip: a demo shape gliding over a cluttered background, changing shape
every quarter (convscope/engine/video/demo_clip.py), as a video file any player opens.

    python scripts/make_demo_clip.py --out demo_clip.mp4 [--frames 100] [--size 192] [--fps 25] [--seed 0] [--noise S]

Then explain it: python main.py video --model demo --input demo_clip.mp4 --out explained.gif
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from convscope.engine.video.demo_clip import make_clip, write_clip  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="a .mp4, .avi, .mkv, .mov or .gif file")
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--size", type=int, default=192, help="side in pixels (the demo model sees 96)")
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--noise", type=float, default=None,
                   help="per-frame noise (std, grey levels; default random 4-10; 0 for small GIFs)")
    args = p.parse_args(argv)
    clip = make_clip(args.frames, args.size, seed=args.seed, fps=args.fps, noise=args.noise)
    write_clip(args.out, clip)
    print(f"{args.frames} frames, {args.size}x{args.size}, {args.fps:g} fps -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
