"""Idle prefetch on the engine thread (convscope/engine/explore/prefetch.py, convscope/engine/qt_bridge.py): what it
computes while the engine is idle, and that a real job stops it. A real QThread and the
real small model; costs are read from ConvModel.passes, never from the clock."""
import numpy as np

from convscope.engine.explore import cache as explore
from convscope.engine import jobs as J
from convscope.engine.images import from_array
from convscope.engine.explore.prefetch import PrefetchHint
from test_bridge import bridge, small_model_file, wait_until  # noqa: F401 (fixtures)


def photo(seed):
    rng = np.random.default_rng(seed)
    return from_array(rng.integers(0, 256, (50, 70, 3), dtype=np.uint8), name=f"p{seed}")


def drained(bridge):
    w = bridge.worker
    # (the worker's idle work: warming a model just opened, then the prefetcher's units)
    return not bridge.busy() and not bridge.prefetching() and w.idle_task() is None


def test_idle_prefetch_answers_the_next_clicks(qtbot, bridge, small_model_file):
    from convscope.engine import open_model

    m = bridge.worker.model
    imgs = [photo(1), photo(2), photo(3)]
    bridge.hint(PrefetchHint(images=tuple(imgs), top=5))
    wait_until(lambda: drained(bridge), 120)
    # the current image: its layers and the gradients of all 4 classes (top-5 of 4);
    # the next two: layers and the top class
    assert all(explore.has_activations(m, im) for im in imgs)
    assert all(explore.has_gradients(m, imgs[0], c, 1.0) for c in range(4))
    # (the model was opened cold: the idle warm-up analysed the current image — its layers
    # and its top class — in one pass, so the prefetcher computed the other 3 + 4 + 2 - 2)
    assert bridge.worker.prefetcher.done == 3 + 4 + 2 - 2
    before = m.passes.copy()
    ref = open_model(small_model_file)
    explore.enable(ref, False)
    for c in range(4):  # clicks on each class, at two layers: answered without a pass
        for layer in ("conv2", "backbone/conv4"):
            job = bridge.submit(J.Cam(image=imgs[0], method="gradcam++", layer=layer, class_index=c))
            wait_until(lambda: any(r.job_id == job and r.final for r in bridge.results), 60)
            r = [r for r in bridge.results if r.job_id == job][-1]
            assert isinstance(r, J.CamReady) and r.class_index == c
            want = ref.cam(imgs[0], method="gradcam++", layer=layer, class_index=c)
            np.testing.assert_allclose(r.heatmap, want.heatmap, rtol=1e-5, atol=1e-6)
    wait_until(lambda: drained(bridge), 60)
    assert m.passes == before


def test_a_real_job_stops_prefetch_after_the_unit_under_way(qtbot, bridge):
    w = bridge.worker
    seen = []
    run = w.run

    def recording_run(job, emit, cancel=None):  # our own worker, observed (not replaced)
        seen.append((job.job_id, w.prefetcher.done))
        run(job, emit, cancel)

    w.run = recording_run
    imgs = tuple(photo(10 + i) for i in range(3))
    bridge.hint(PrefetchHint(images=imgs, top=5))  # 9 units of work
    wait_until(lambda: bridge.prefetching(), 60)
    done_at_submit = w.prefetcher.done
    job = bridge.submit(J.Activations(image=photo(99), layer="conv1"))
    wait_until(lambda: any(r.job_id == job and r.final for r in bridge.results), 60)
    started = dict(seen)[job]
    assert started <= done_at_submit + 1, "prefetch went on after a real job was queued"
    assert started < 9
    wait_until(lambda: drained(bridge), 120)  # and it resumes when the engine is idle again
    assert w.prefetcher.done == 9 - 2  # the cold model's idle warm-up analysed imgs[0]
    assert all(explore.has_activations(w.model, im) for im in imgs)


def test_no_prefetch_when_the_cache_is_off(qtbot, bridge):
    m = bridge.worker.model
    explore.enable(m, False)
    try:
        bridge.hint(PrefetchHint(images=(photo(20),)))
        assert bridge.worker.idle_task() is None
        assert not explore.has_activations(m, photo(20))
    finally:
        explore.enable(m, True)
