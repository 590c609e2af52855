"""The engine serves the view in front first (issue 17), at the engine's level (small
model, real engine thread): a long job yields to queued short ones at its checks and goes
on where it was; the fast lane answers cached requests with the engine's own numbers."""
import numpy as np
import pytest

from convscope.engine import jobs as J
from test_bridge import bridge, ramp_image, small_model_file, wait_until  # noqa: F401

pytestmark = pytest.mark.timeout(300)


def _image(seed):
    from convscope.engine.images import from_array

    rng = np.random.default_rng(seed)
    return from_array(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8), name=f"noise{seed}")


def test_first_paint_takes_the_per_layer_path_then_warms_in_idle_time(qtbot, small_model_file):
    """A model just opened is cold: its first prediction is ONE fused pass to the default
    CAM layer, and the default map after it costs no pass (as `cam` on the command line);
    the all-layer cache is warmed when the engine is idle."""
    from convscope.engine.explore import cache as explore
    from convscope.engine.worker import Worker

    w = Worker()
    w.run_all(J.StartEngine())
    assert isinstance(w.run_all(J.LoadModel(spec=small_model_file))[-1], J.ModelLoaded)
    m = w.model
    assert explore.is_cold(m) and not explore.state(m).fns  # nothing traced before the image
    img = ramp_image()
    preds = w.run_all(J.Predict(image=img))[-1]
    assert m.passes == {"forward": 1, "backward": 1}
    assert preds.predictions[0].index == int(np.argmax(m.scores(img)[0]))
    cam = w.run_all(J.Cam(image=img))[-1]
    assert isinstance(cam, J.CamReady) and cam.class_index == preds.predictions[0].index
    assert m.passes["backward"] == 1, "the first map needed another pass"
    task = w.idle_task()
    task(None)  # the idle warm-up
    assert not explore.is_cold(m) and explore.state(m).fns
    assert w.run_all(J.Predict(image=img))[-1].predictions[0].index == preds.predictions[0].index
    assert explore.has_activations(m, img)  # analysed now: later clicks from memory


def test_a_long_job_yields_to_a_short_one_and_resumes(qtbot, bridge):
    long = J.FilterPatterns(layer="backbone/conv4", filters=tuple(range(32)), steps=400)
    steps = []  # the long job's streamed steps: they go on after the short job (resumed)
    bridge.sigResult.connect(lambda r: r.job_id == long.job_id and isinstance(r, J.FiltersReady)
                             and steps.append(r.step))
    bridge.submit(long)
    wait_until(lambda: steps, 60)
    short = J.Activations(image=_image(1), layer="conv2")  # a new image: not in any cache
    assert not bridge.worker.answerable(short)
    bridge.submit(short)
    wait_until(lambda: any(r.job_id == short.job_id and r.final for r in bridge.results), 60)
    done = [r for r in bridge.results if r.job_id == short.job_id and r.final]
    assert isinstance(done[0], J.ActivationsReady) and done[0].activations.shape == (32, 32, 16)
    assert not any(r.job_id == long.job_id and r.final for r in bridge.results), \
        "the long job had finished: nothing was preempted"
    assert bridge.nested >= 1
    at_short = steps[-1]
    wait_until(lambda: steps[-1] > at_short, 60)  # it goes on from where it was
    assert min(steps[steps.index(at_short):]) >= at_short, "the long job restarted"
    bridge.cancel("filters")
    wait_until(lambda: any(r.job_id == long.job_id and r.final for r in bridge.results), 60)
    assert isinstance([r for r in bridge.results if r.job_id == long.job_id and r.final][0],
                      J.JobCancelled)


def test_fast_lane_answers_cached_requests_with_the_engines_numbers(qtbot, bridge):
    from convscope.engine.explore import cache as explore

    img = ramp_image()
    worker = bridge.worker
    wait_until(lambda: not explore.is_cold(worker.model), 60)  # warmed in idle time
    bridge.submit(J.Predict(image=img))  # the first analysis: every layer, top-class gradients
    wait_until(lambda: any(isinstance(r, J.Predicted) for r in bridge.results), 60)
    wait_until(lambda: not bridge.busy(), 60)
    jobs = [J.Activations(image=img, layer=layer) for layer in ("conv1", "backbone/conv3")]
    jobs += [J.Cam(image=img, method=m, layer=layer)
             for m in ("gradcam", "gradcam++", "layercam", "hirescam", "xgradcam")
             for layer in (None, "conv2", "backbone/conv3")]
    for job in jobs:
        assert worker.answerable(job), job.describe()
        fast = worker.fast_answer(job)[-1]
        slow = [r for r in worker.run_all(job) if r.final][-1]  # the engine thread's path
        assert type(fast) is type(slow)
        if isinstance(job, J.Cam):
            assert (fast.layer, fast.class_index, fast.label) == (slow.layer, slow.class_index, slow.label)
            assert fast.score == pytest.approx(slow.score, rel=1e-6)
            np.testing.assert_allclose(fast.heatmap, slow.heatmap, atol=1e-6)
            if slow.weights is None:
                assert fast.weights is None
            else:
                np.testing.assert_allclose(fast.weights, slow.weights, rtol=1e-5, atol=1e-9)
            assert fast.no_evidence == slow.no_evidence
        else:
            np.testing.assert_array_equal(fast.activations, slow.activations)
    # what the caches cannot answer goes to the engine thread
    assert not worker.answerable(J.Cam(image=img, method="scorecam"))
    assert not worker.answerable(J.Cam(image=_image(2), method="gradcam"))
    assert not worker.answerable(J.Cam(image=img, method="gradcam", options=(("eigen_smooth", True),)))
    # through the bridge: answered without the engine thread
    before = bridge.fast_answered
    job = J.Cam(image=img, method="gradcam", layer="conv1")
    bridge.submit(job)
    wait_until(lambda: any(r.job_id == job.job_id for r in bridge.results), 30)
    assert bridge.fast_answered == before + 1
