"""The window's learning jobs on a real Worker (no Qt): the CKA job streams one progress
result per minibatch and stops at the next minibatch when cancelled; bad folders are one
message; a checkpoint folder's epoch maps are the engine's maps of that checkpoint."""
import numpy as np
import pytest

from convscope.engine import jobs as J
from convscope.engine.cancel import CancelToken
from convscope.engine.learning import jobs as LJ

from test_learning_cli import ck, recorded  # noqa: F401 (the recorded run: a module fixture)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def worker(recorded):  # noqa: F811
    from convscope.engine import open_model
    from convscope.engine.worker import Worker

    w = Worker()
    w.model = open_model(str(ck(recorded, 2)))
    return w


def test_cka_job_progress_result_and_cancel(worker, recorded):  # noqa: F811
    out = worker.run_all(LJ.LayerCKA(images=str(recorded / "images"), batch_size=4))  # 8 images
    assert [(r.done, r.total) for r in out if isinstance(r, J.Progress)] == [(1, 2), (2, 2)]
    r = out[-1]
    assert isinstance(r, LJ.CKAReady) and r.images == 8
    np.testing.assert_allclose(np.diag(r.matrix), 1.0, atol=1e-6)
    # cancelled while the first minibatch is reported: the second never runs
    token = CancelToken()
    seen = []

    def emit(res):
        seen.append(res)
        if isinstance(res, J.Progress):
            token.cancel()

    worker.run(LJ.LayerCKA(images=str(recorded / "images"), batch_size=4), emit, token)
    assert [r.done for r in seen if isinstance(r, J.Progress)] == [1]
    assert isinstance(seen[-1], J.JobCancelled)


@pytest.mark.parametrize("folder,message", [
    ("nowhere", "image folder not found"),
    ("run/checkpoints", "CKA needs at least 4 images"),
])
def test_cka_job_bad_folders_are_one_message(worker, recorded, folder, message):  # noqa: F811
    out = worker.run_all(LJ.LayerCKA(images=str(recorded / folder)))
    assert isinstance(out[-1], J.JobFailed) and not out[-1].internal
    assert message in out[-1].message and "\n" not in out[-1].message


def test_epoch_maps_job_opens_another_checkpoint_when_needed(worker, recorded):  # noqa: F811
    from convscope.engine import load_image, open_model

    images = tuple(load_image(str(recorded / "images" / f"img{i}.png")) for i in range(3))
    out = worker.run_all(LJ.EpochMaps(checkpoint=str(ck(recorded, 0)), epoch=0, images=images))
    r = out[-1]
    assert isinstance(r, LJ.EpochMapsReady) and r.layer == "conv2"
    m = open_model(str(ck(recorded, 0)))  # not the worker's model (epoch 2)
    for i, image in enumerate(images):
        top = m.predict(image, top=1)[0]
        assert r.classes[i] == top.index and r.labels[i] == top.label
        np.testing.assert_allclose(r.maps[i], m.cam(image, class_index=top.index).heatmap, atol=1e-5)
