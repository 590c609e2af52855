"""File ▸ Open run… for real: a run recorded by the Recorder during a real fit, opened in
an offscreen window on the engine thread; the epoch slider opens that epoch's checkpoint,
and the CAM view then shows exactly the map the Recorder recorded for that epoch."""
import os

import numpy as np
import pytest

from gui_support import open_window, settings_file, settle, wait_until  # noqa: F401

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    import keras

    from convscope.engine import Recorder
    from convscope.engine.demo_shapes import CLASSES, make_batch
    from test_learning import SIZE, build

    root = tmp_path_factory.mktemp("gui-run")
    x, y, _ = make_batch(64, 5, size=SIZE)
    probes, _, _ = make_batch(3, 6, size=SIZE)
    model = build()
    model.fit(x.astype(np.float32) / 255.0, keras.utils.to_categorical(y, 4), batch_size=16,
              epochs=2, verbose=0, shuffle=False,
              callbacks=[Recorder(root / "run", images=list(probes), class_names=list(CLASSES))])
    return root / "run"


def _source(w):
    return w.session.model.summary.source if w.session.model else None


def test_open_run_and_the_slider_changes_the_views(qapp, settings_file, run_folder):
    from convscope.engine.learning import open_run

    run = open_run(run_folder)
    ck = {e: run.checkpoint(e) for e in run.epochs}
    w = open_window(settings_file, model=ck[1], view="cam")
    try:
        assert w.run_timeline.open(str(run_folder))
        assert w.run_timeline.dock.isVisible() and w.run_timeline.epoch == 2
        wait_until(lambda: _source(w) == ck[2], 120, "epoch 2's checkpoint")
        assert w.session.image.name == "probe 1"  # the probe images are in the strip
        assert [im.name for im in w.session.images[-3:]] == ["probe 1", "probe 2", "probe 3"]
        settle(w)
        recorded = run.arrays(2)["map|gradcam|conv2"][0]
        np.testing.assert_allclose(w.cam_view.result.heatmap, recorded, atol=1e-4)
        # the slider: epoch 0 (the untrained network) in every view
        w.run_timeline.slider.setValue(0)
        assert w.run_timeline.label.text() == "epoch 0 · untrained"
        wait_until(lambda: _source(w) == ck[0], 120, "epoch 0's checkpoint")
        settle(w)
        np.testing.assert_allclose(w.cam_view.result.heatmap, run.arrays(0)["map|gradcam|conv2"][0],
                                   atol=1e-4)
        assert not np.allclose(w.cam_view.result.heatmap, recorded, atol=1e-3)
        # the curves: Keras' loss at epochs 1 and 2, the selected epoch marked
        xs, ys = w.run_timeline.curves.series["loss"]
        assert xs == [1, 2] and ys == [run.scalars("log/loss")[1], run.scalars("log/loss")[2]]
        assert w.run_timeline.curves.line.value() == 0
        # Play steps through the epochs: 0 -> 1 -> 2, then stops
        w.run_timeline.play.setChecked(True)
        wait_until(lambda: not w.run_timeline.play.isChecked(), 60, "Play to reach the last epoch")
        assert w.run_timeline.epoch == 2 and w.run_timeline.curves.line.value() == 2
        wait_until(lambda: _source(w) == ck[2], 120, "epoch 2's checkpoint after Play")
        settle(w)
        w.view("activations")
        settle(w)
        assert w.activations_view.settled()
        # a folder that is not a run: one message, nothing changes
        assert not w.run_timeline.open(os.path.dirname(run_folder))
        assert "not a ConvScope run" in w.notifications.current_text()
        assert _source(w) == ck[2]
        # a folder of checkpoints without a recording: the slider runs over its files
        assert w.run_timeline.open(str(run_folder / "checkpoints"))
        assert w.run_timeline.epochs == [0, 1, 2] and w.run_timeline.curves.series == {}
        w.run_timeline.set_epoch(1, now=True)
        assert w.run_timeline.label.text() == "epoch_001.keras"
        wait_until(lambda: _source(w) == ck[1], 120, "the second checkpoint file")
        settle(w)
    finally:
        w.close()


def test_compare_with_model_shows_both_maps_and_their_difference(qapp, settings_file, run_folder):
    """File ▸ Compare with model…: the engine's difference equals B's map minus A's, for
    A's top class; a model against itself gives zero; different inputs are one message."""
    from convscope.engine import open_model
    from convscope.engine.learning import open_run

    run = open_run(run_folder)
    ck = {e: run.checkpoint(e) for e in run.epochs}
    w = open_window(settings_file, model=ck[2], view="cam")
    try:
        image = w.session.image
        assert w.model_comparison.compare(ck[0])
        wait_until(lambda: w.model_comparison.result is not None, 120, "the comparison")
        r = w.model_comparison.result
        a, b = open_model(ck[2]), open_model(ck[0])
        top = a.predict(image, top=1)[0].index
        assert r.class_index == top and r.layer == "conv2"
        want = b.cam(image, layer="conv2", class_index=top).heatmap - a.cam(image, layer="conv2", class_index=top).heatmap
        np.testing.assert_allclose(r.diff, want, atol=1e-4)
        assert np.abs(r.diff).max() > 0.01 and w.model_comparison.dialog.isVisible()
        # the layer's channels: each channel's mean activation over the positions, in A and
        # B, and the change B − A (re-computed here from each model's activations)
        act_a = a.activations(image, layers=["conv2"])["conv2"].astype(np.float64)
        act_b = b.activations(image, layers=["conv2"])["conv2"].astype(np.float64)
        np.testing.assert_allclose(r.means_a, act_a.mean(axis=(0, 1)), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(r.means_b, act_b.mean(axis=(0, 1)), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(w.model_comparison.change, r.means_b - r.means_a)
        # both grids on ONE scale: min and max over A and B together
        from convscope.engine import colormaps, grid

        lo, hi = min(act_a.min(), act_b.min()), max(act_a.max(), act_b.max())
        for got, act in ((r.grid_a, act_a), (r.grid_b, act_b)):
            tiles = np.moveaxis(np.clip((act.astype(np.float32) - np.float32(lo)) * np.float32(255.0 / (hi - lo)), 0, 255).astype(np.uint8), -1, 0)
            want_grid = colormaps.apply_u8(grid.tile(tiles, grid.default_per_row(act.shape[-1]), margin=1, fill=0), "viridis")
            assert np.abs(got.astype(int) - want_grid.astype(int)).max() <= 1
        # both predictions
        for got, m in ((r.preds_a, a), (r.preds_b, b)):
            want_p = m.predict(image, top=3)
            assert [p[0] for p in got] == [p.index for p in want_p]
            np.testing.assert_allclose([p[2] for p in got], [p.score for p in want_p], rtol=1e-5)
        assert w.model_comparison.preds[1].text().startswith("B predicts: ")
        # filter patterns of the 4 most-changed channels, A's and B's
        most = np.argsort(-np.abs(act_b.mean(axis=(0, 1)) - act_a.mean(axis=(0, 1))), kind="stable")[:4]
        assert list(r.pattern_channels) == [int(c) for c in most]
        for got, m in ((r.patterns_a, a), (r.patterns_b, b)):
            want_pat = m.filter_patterns("conv2", filters=list(r.pattern_channels), size=64, steps=40,
                                         mode="classic")
            assert got.shape == want_pat.shape and got.dtype == np.uint8
            assert np.abs(got.astype(int) - want_pat.astype(int)).max() <= 2
        assert not np.array_equal(r.patterns_a, r.patterns_b)
        w.model_comparison.result = None
        assert w.model_comparison.compare(ck[2])
        wait_until(lambda: w.model_comparison.result is not None, 120, "the self-comparison")
        assert not np.any(w.model_comparison.result.diff)
        same = w.model_comparison.result
        assert not np.any(w.model_comparison.change)
        np.testing.assert_array_equal(same.grid_a, same.grid_b)
        np.testing.assert_array_equal(same.patterns_a, same.patterns_b)
    finally:
        w.close()


def test_small_multiples_epochs_by_probe_images(qapp, qtbot, settings_file, run_folder, monkeypatch):
    """The strip: one row per recorded epoch, one column per probe image; each cell is the
    recorded map over its probe with the recorded prediction; the selected epoch's row is
    highlighted; a click selects that epoch and that probe image."""
    from PySide6.QtCore import Qt

    from convscope.engine.cam import overlay
    from convscope.engine.learning import open_run
    from convscope.gui.run_strip import PLAIN, SELECTED

    run = open_run(run_folder)
    ck = {e: run.checkpoint(e) for e in run.epochs}
    w = open_window(settings_file, model=ck[2], view="cam")
    try:
        tl = w.run_timeline
        assert tl.open(str(run_folder))
        strip = tl.strip
        assert strip.epochs == [0, 1, 2] and len(strip.cells) == 3 * 3
        probes = run.probes()
        for e in run.epochs:
            maps = run.arrays(e)["map|gradcam|conv2"]
            for i in range(3):
                cell = strip.cells[(e, i)]
                np.testing.assert_array_equal(cell.rgb, overlay.blend(probes[i], maps[i]))
                assert not cell.pic.pixmap().isNull()
                c = int(run.scalars("pred/class", image=i)[e])
                score = run.scalars("pred/score", image=i)[e]
                assert cell.caption == f"{run.meta['model']['labels'][c]} {score:.2f}"
        # the maps differ between epochs (the strip is not one epoch repeated)
        assert not np.array_equal(strip.cells[(0, 0)].rgb, strip.cells[(2, 0)].rgb)
        assert strip.selected == 2
        assert all((c.styleSheet() == SELECTED) == (e == 2) for (e, _), c in strip.cells.items())
        wait_until(lambda: _source(w) == ck[2], 120, "epoch 2's checkpoint")
        # a click on (epoch 1, probe 3): that epoch everywhere, that image in the window
        qtbot.mouseClick(strip.cells[(1, 2)], Qt.MouseButton.LeftButton)
        assert tl.epoch == 1 and tl.slider.value() == 1 and strip.selected == 1
        assert strip.cells[(1, 2)].styleSheet() == SELECTED
        assert strip.cells[(2, 2)].styleSheet() == PLAIN
        assert w.session.image.name == "probe 3"
        wait_until(lambda: _source(w) == ck[1], 120, "epoch 1's checkpoint after the click")
        settle(w)
        np.testing.assert_allclose(w.cam_view.result.heatmap, run.arrays(1)["map|gradcam|conv2"][2],
                                   atol=1e-4)
        # the slider moves the highlight too
        tl.slider.setValue(0)
        assert strip.selected == 0 and strip.cells[(0, 1)].styleSheet() == SELECTED
        # a long run: at most MAX_ROWS rows (first and last kept); an epoch without a row
        # highlights the row before it
        from convscope.gui import run_strip

        monkeypatch.setattr(run_strip, "MAX_ROWS", 2)
        assert tl.open(str(run_folder))
        assert strip.epochs == [0, 2] and len(strip.cells) == 2 * 3
        tl.set_epoch(1)
        assert tl.epoch == 1 and strip.selected == 0
    finally:
        w.close()


def test_checkpoint_folder_epochs_computed_on_demand_and_cached(qapp, settings_file, run_folder):
    """A folder of checkpoints without a recording: choosing an epoch computes the maps of
    the window's images under that checkpoint (equal to the engine's map of that model),
    once; returning to the epoch sends no job; the cache is bounded by bytes."""
    from convscope.engine import open_model
    from convscope.engine.cam import overlay
    from convscope.engine.learning import open_run

    run = open_run(run_folder)
    ck = {e: run.checkpoint(e) for e in run.epochs}
    w = open_window(settings_file, model=ck[2], view="cam")
    try:
        tl = w.run_timeline
        assert tl.open(str(run_folder))  # the recorded run puts its 3 probes in the window
        probes = list(w.session.images[-3:])
        assert w.session.image is probes[0]
        assert tl.open(str(run_folder / "checkpoints"))
        od = tl.ondemand
        # the columns: the current image and the ones after it, then from the first, 8 at most
        assert od.images[:3] == probes and len(od.images) == min(8, len(w.session.images))
        images = od.images
        assert tl.strip.epochs == [0, 1, 2] and tl.strip.cells[(0, 0)].caption == "not computed yet"
        wait_until(lambda: (2, "gradcam") in od.cache.items, 120, "epoch 2's maps")
        assert od.sent == 1
        tl.set_epoch(0, now=True)
        wait_until(lambda: (0, "gradcam") in od.cache.items, 120, "epoch 0's maps")
        assert od.sent == 2 and tl.strip.cells[(1, 0)].caption == "not computed yet"
        for e in (0, 2):
            m = open_model(ck[e])
            for i, image in enumerate(images):
                top = m.predict(image, top=1)[0]
                want = m.cam(image, class_index=top.index).heatmap
                r = od.cache.items[(e, "gradcam")]
                np.testing.assert_allclose(r.maps[i], want, atol=1e-5)
                assert r.classes[i] == top.index
                cell = tl.strip.cells[(e, i)]
                np.testing.assert_array_equal(cell.rgb, overlay.blend(image.pixels, r.maps[i]))
                assert cell.caption == f"{top.label} {top.score:.2f}"
        assert not np.allclose(od.cache.items[(0, "gradcam")].maps[0], od.cache.items[(2, "gradcam")].maps[0])
        # back to epoch 2: from the cache, no job
        cached = od.cache.items[(2, "gradcam")]
        tl.set_epoch(2, now=True)
        wait_until(lambda: _source(w) == ck[2], 120, "epoch 2's checkpoint again")
        settle(w)
        assert od.sent == 2 and od.cache.items[(2, "gradcam")] is cached
        # the bound: room for one epoch's maps only -> the least recently used goes
        od.cache.max_bytes = od.cache.size(cached)
        tl.set_epoch(1, now=True)
        wait_until(lambda: (1, "gradcam") in od.cache.items, 120, "epoch 1's maps")
        assert list(od.cache.items) == [(1, "gradcam")] and od.cache.bytes <= od.cache.max_bytes
        assert od.sent == 3
    finally:
        w.close()
