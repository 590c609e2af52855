"""The status bar names methods as the menus do (issue 17, new-user pass): Compare's
progress read "scorecam: 1/17" and "integrated-gradients: 1/1", the registry's keys."""
from convscope.engine import jobs as J
from convscope.engine.cam import registry
from convscope.engine.worker import Worker
from test_bridge import ramp_image, small_model_file  # noqa: F401 (fixture)


def test_cam_progress_names_the_method_by_its_title(small_model_file):
    w = Worker(progress_interval=0.0)  # every progress report, not one per 0.1 s
    out = w.run_all(J.LoadModel(spec=small_model_file))
    assert isinstance(out[-1], J.ModelLoaded), out[-1]
    out = w.run_all(J.Cam(image=ramp_image(), method="scorecam"))
    assert isinstance(out[-1], J.CamReady), out[-1]
    texts = [r.text for r in out if isinstance(r, J.Progress) and r.text]
    assert texts, "Score-CAM reported no progress"
    title = registry.title("scorecam")
    assert title != "scorecam"
    for text in texts:
        assert text.startswith(f"{title}: "), text
