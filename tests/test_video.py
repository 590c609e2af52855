"""Videos: the demo clip, OpenCV reading and writing, and `convscope video` — whose frames
must be the single-image `cam` overlays of the same frames — and its errors.

Source clips are real files written here with OpenCV (engine.video.demo_clip: the object's
pixels are known in every frame). Comparison: the lossless outputs (.avi, FFV1) are
compared with the `cam` overlays pixel for pixel (a batch of frames and one frame at a
time may round a heatmap value to the neighbouring colour-map entry: at most a few levels,
on a handful of pixels); the lossy .mp4 output by PSNR and correlation.
"""
import os

import cv2
import numpy as np
import pytest
from PIL import Image as P

from convscope.engine import load_image
from convscope.engine.cancel import CancelToken
from convscope.engine.cli import main as cli
from convscope.engine.video.demo_clip import make_clip, write_clip
from convscope.engine.errors import Cancelled, UserError
from convscope.engine.video.explain import Smoother, caption_box, caption_text, explain_frames
from convscope.engine.video.io import VideoSource, read_frames, write_video

N_FRAMES = 20


@pytest.fixture(scope="module")
def clip():
    return make_clip(N_FRAMES, 96, seed=5, fps=12.0)


@pytest.fixture(scope="module")
def clip_mp4(clip, tmp_path_factory):
    path = tmp_path_factory.mktemp("clips") / "moving.mp4"
    write_clip(str(path), clip)
    return str(path)


def run(capsys, *argv):
    code = cli(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _overlays(model, frames, tmp_path):
    """What `cam` draws for each frame, saved as PNG and loaded back (the CLI's path)."""
    out = []
    for i, f in enumerate(frames):
        path = tmp_path / f"frame{i}.png"
        P.fromarray(f).save(path)
        out.append(model.cam(load_image(path), method="gradcam").overlay(alpha=0.4, colormap="jet"))
    return np.stack(out)


def _close(a, b, what):
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.max() <= 4, f"{what}: max difference {diff.max()}"
    assert (diff > 0).mean() < 0.002, f"{what}: {(diff > 0).mean():.4f} of values differ"


# -- the clip and video I/O ------------------------------------------------------------------
def test_clip_object_moves_and_masks_are_the_object(clip):
    assert clip.frames.shape == (N_FRAMES, 96, 96, 3) and clip.masks.shape == (N_FRAMES, 96, 96)
    for frame, mask, (cx, cy) in zip(clip.frames, clip.masks, clip.centres):
        ys, xs = np.nonzero(mask)
        assert abs(xs.mean() - cx) < 4 and abs(ys.mean() - cy) < 4
        # the object's colour stands out from its surroundings
        ring = cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & ~mask
        assert np.linalg.norm(frame[mask].mean(0) - frame[ring].mean(0)) > 40
    travelled = np.linalg.norm(np.diff(clip.centres, axis=0), axis=1)
    assert travelled.min() > 0.5 and sorted(set(clip.labels.tolist())) == [0, 1, 2, 3]


def test_lossless_round_trip_and_frame_rate(clip, tmp_path):
    for ext in (".avi", ".mkv"):
        path = str(tmp_path / f"c{ext}")
        write_video(path, clip.frames, fps=12.0)
        frames, info = read_frames(path)
        assert np.array_equal(frames, clip.frames), ext
        assert (info.fps, info.frame_count, info.size) == (12.0, N_FRAMES, (96, 96))


def test_gradcam_follows_the_object_in_the_clip(demo_model, clip_mp4, clip):
    frames, _ = read_frames(clip_mp4)
    maps = explain_frames(demo_model, list(frames), "gradcam")
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    hits = []
    for fm, mask in zip(maps, clip.masks):
        up = cv2.resize(fm.heatmap, (96, 96), interpolation=cv2.INTER_LINEAR)
        y, x = np.unravel_index(np.argmax(up), up.shape)
        hits.append(cv2.dilate(mask.astype(np.uint8), kernel)[y, x])
    assert np.mean(hits) >= 0.9
    # the caption's probability is the model's own softmax output for the class
    probs = demo_model.scores(list(frames[:4]))
    for fm, row in zip(maps[:4], probs):
        assert fm.class_index == int(row.argmax())
        assert fm.probability == pytest.approx(float(row[fm.class_index]), abs=1e-5)


def test_smoother_is_the_exponential_moving_average():
    rng = np.random.default_rng(0)
    maps = rng.random((6, 5, 7)).astype(np.float32)
    s = Smoother(0.7)
    expected = maps[0].astype(np.float64)
    for i, m in enumerate(maps):
        got = s(m)
        if i:
            expected = 0.7 * expected + 0.3 * m
        np.testing.assert_allclose(got, expected, atol=1e-6)
        assert 0.0 <= got.min() and got.max() <= 1.0
    np.testing.assert_array_equal(Smoother(0.0)(maps[3]), maps[3])
    with pytest.raises(UserError, match="smooth"):
        Smoother(0.95)


# -- convscope video ---------------------------------------------------------------------------
def test_video_frames_equal_cam_overlays(capsys, demo_model, clip_mp4, tmp_path):
    out = tmp_path / "explained.avi"  # FFV1: lossless, so the written pixels are compared
    code, stdout, err = run(capsys, "video", "--model", "demo", "--input", clip_mp4,
                            "--out", str(out), "--no-caption", "--batch-size", "8")
    assert code == 0, err
    assert f"{N_FRAMES} frames" in stdout
    source, src_info = read_frames(clip_mp4)
    video, info = read_frames(out)
    assert video.shape == source.shape and info.fps == src_info.fps
    _close(video, _overlays(demo_model, source, tmp_path), "video vs cam overlays")
    # and the `cam` command itself, on two of the frames
    for i in (0, N_FRAMES - 1):
        png = tmp_path / f"cam{i}.png"
        code, _, err = run(capsys, "cam", "--model", "demo", "--image", str(tmp_path / f"frame{i}.png"),
                           "--out", str(png))
        assert code == 0, err
        _close(video[i], np.asarray(P.open(png).convert("RGB")), f"frame {i} vs `cam`")


def test_mp4_with_caption_side_by_side(capsys, demo_model, clip_mp4, tmp_path):
    out = tmp_path / "explained.mp4"
    code, _, err = run(capsys, "video", "--model", "demo", "--input", clip_mp4, "--out", str(out),
                       "--side-by-side")
    assert code == 0, err
    source, _ = read_frames(clip_mp4)
    video, info = read_frames(out)
    assert video.shape == (N_FRAMES, 96, 192, 3) and info.fps == 12.0
    overlays = _overlays(demo_model, source, tmp_path)
    maps = explain_frames(demo_model, list(source), "gradcam")
    for i in range(N_FRAMES):
        left, right = video[i, :, :96].astype(float), video[i, :, 96:].astype(float)
        x0, y0, x1, y1 = caption_box(96, 96, caption_text(maps[i].label, maps[i].probability))
        keep = np.ones((96, 96), bool)
        keep[y0:y1, x0:x1] = False
        for got, want in ((left, source[i]), (right[keep], overlays[i][keep])):
            want = want.astype(float)
            psnr = 10 * np.log10(255 ** 2 / np.mean((got - want) ** 2))
            assert psnr > 28 and np.corrcoef(got.ravel(), want.ravel())[0, 1] > 0.97
        # the caption box is darkened under the white text
        assert right[y0:y1, x0:x1].mean() < overlays[i][y0:y1, x0:x1].mean()


def test_every_nth_frame_keeps_its_map_and_gif(capsys, demo_model, clip_mp4, tmp_path):
    out = tmp_path / "every3.avi"
    code, stdout, err = run(capsys, "video", "--model", "demo", "--input", clip_mp4, "--out",
                            str(out), "--every", "3", "--no-caption", "--max-frames", "10")
    assert code == 0, err
    assert "10 frames (4 explained" in stdout
    source, _ = read_frames(clip_mp4, 10)
    video, _ = read_frames(out)
    assert len(video) == 10
    from convscope.engine.cam.overlay import blend

    for i in range(10):
        key = i - i % 3
        heat = demo_model.cam(source[key], method="gradcam").heatmap
        _close(video[i], blend(source[i], heat), f"frame {i} with the map of frame {key}")
    gif = tmp_path / "explained.gif"
    code, _, err = run(capsys, "video", "--model", "demo", "--input", clip_mp4, "--out", str(gif),
                       "--max-frames", "6", "--smooth", "0.5")
    assert code == 0, err
    with P.open(gif) as im:
        assert (im.n_frames, im.size) == (6, (96, 96))
        assert im.info["duration"] == 80  # 1/12 s in GIF's 1/100 s steps


def _truncated(clip, tmp_path, ext):
    good = tmp_path / f"good{ext}"
    write_video(str(good), clip.frames, 12.0)
    data = good.read_bytes()
    bad = tmp_path / f"truncated{ext}"
    bad.write_bytes(data[: len(data) // 2])
    return bad


@pytest.mark.parametrize("case, words", [
    ("truncated.avi", "decoding stopped at frame"),
    ("truncated.mp4", "damaged or truncated"),
    ("text.mp4", "cannot be decoded as a video"),
    ("missing.mp4", "not found"),
    ("image.png", "an image, not a video"),
])
def test_bad_inputs_are_one_clear_line(capsys, clip, tmp_path, case, words):
    if case.startswith("truncated"):
        src = _truncated(clip, tmp_path, os.path.splitext(case)[1])
    else:
        src = tmp_path / case
        if case == "text.mp4":
            src.write_text("this is not a video\n" * 50)
        elif case == "image.png":
            P.fromarray(clip.frames[0]).save(src)
    out = tmp_path / "out" / "x.mp4"
    out.parent.mkdir()
    code, stdout, err = run(capsys, "video", "--model", "demo", "--input", str(src), "--out", str(out))
    assert code == 2 and stdout == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and words in err, err
    assert os.listdir(out.parent) == []  # no file, no temporary file


@pytest.mark.parametrize("flags, words", [
    (["--every", "0"], "--every must be at least 1"),
    (["--smooth", "0.95"], "--smooth must be between 0 and 0.9"),
    (["--smooth", "-0.1"], "--smooth must be between 0 and 0.9"),
    (["--max-frames", "0"], "--max-frames must be at least 1"),
    (["--method", "nope"], "unknown CAM method"),
    (["--class", "dog"], "no class named 'dog'"),
])
def test_bad_options(capsys, clip_mp4, tmp_path, flags, words):
    out = tmp_path / "x.mp4"
    code, _, err = run(capsys, "video", "--model", "demo", "--input", clip_mp4, "--out", str(out), *flags)
    assert code == 2 and err.count("\n") == 1 and words in err, err
    assert not out.exists()


def test_cancel_leaves_no_file(demo_model, clip_mp4, tmp_path):
    from convscope.engine.video.pipeline import VideoOptions, explain_video

    token = CancelToken()
    seen = []

    def progress(done, total):
        seen.append(done)
        token.cancel()  # as Ctrl-C does, after the first batch

    out = tmp_path / "x.mp4"
    with pytest.raises(Cancelled):
        explain_video(demo_model, clip_mp4, str(out), VideoOptions(batch_size=4),
                      progress=progress, cancel=token)
    assert seen == [4] and os.listdir(tmp_path) == []


def test_truncated_file_reader_stops_with_error(clip, tmp_path):
    src = VideoSource.open_file(_truncated(clip, tmp_path, ".avi"))
    n = 0
    with pytest.raises(UserError, match="truncated"):
        while src.read() is not None:
            n += 1
    assert 0 < n < N_FRAMES


def test_live_frame_job_smooths_and_refuses_slow_methods(demo_model, clip):
    """The engine's side of the Live view (convscope/engine/video/live.py), run as the engine thread runs it."""
    from convscope.engine import jobs as J
    from convscope.engine.worker import Worker

    worker = Worker()
    worker.model = demo_model
    singles = [demo_model.cam(f, method="gradcam").heatmap for f in clip.frames[:3]]
    expected = singles[0].astype(np.float64)
    for i, f in enumerate(clip.frames[:3]):
        r = worker.run_all(J.LiveFrame(frame=f, index=i, source="s", smooth=0.5))[-1]
        assert isinstance(r, J.LiveFrameReady), r
        if i:
            expected = 0.5 * expected + 0.5 * singles[i]
        np.testing.assert_allclose(r.heatmap, expected, atol=1e-5)
        preds = demo_model.predict(f, top=4)
        assert [p.index for p in r.predictions] == [p.index for p in preds]
        assert r.predictions[0].score == pytest.approx(preds[0].score, abs=1e-5)
    r = worker.run_all(J.LiveFrame(frame=clip.frames[2], index=2, source="s", smooth=0.5,
                                   reset=True))[-1]
    np.testing.assert_allclose(r.heatmap, singles[2], atol=1e-5)  # a seek starts afresh
    failed = worker.run_all(J.LiveFrame(frame=clip.frames[0], method="scorecam"))[-1]
    assert isinstance(failed, J.JobFailed) and "too slow to run live" in failed.message
