"""The Recorder (engine.learning): a real fit of a small shapes network, recorded, read
back, interrupted and resumed."""
import os

import numpy as np
import pytest

from convscope.engine.demo_shapes import make_batch
from convscope.engine.errors import UserError

SIZE = 48


def build(seed=0):
    from convscope.engine import tf_runtime

    tf_runtime.init("auto")
    import keras

    keras.utils.set_random_seed(seed)
    L = keras.layers
    inp = keras.Input((SIZE, SIZE, 3))
    x = L.Conv2D(8, 3, activation="relu", padding="same", name="conv1")(inp)
    x = L.MaxPooling2D(name="pool1")(x)
    x = L.Conv2D(16, 3, activation="relu", padding="same", name="conv2")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(4, activation="softmax", name="predictions")(x)
    m = keras.Model(inp, out, name="tiny_shapes")
    m.compile(optimizer=keras.optimizers.Adam(1e-2), loss="categorical_crossentropy",
              metrics=["accuracy"])
    return m


@pytest.fixture(scope="module")
def data():
    import keras

    x, y, _ = make_batch(64, 5, size=SIZE)
    probes, labels, _ = make_batch(4, 6, size=SIZE)
    return x.astype(np.float32) / 255.0, keras.utils.to_categorical(y, 4), list(probes), list(labels)


def fit(model, data, run, epochs, initial_epoch=0, extra=(), **kw):
    from convscope.engine import Recorder

    x, y, probes, labels = data
    rec = Recorder(run, images=probes, **kw)
    model.fit(x, y, batch_size=16, epochs=epochs, initial_epoch=initial_epoch, verbose=0,
              shuffle=False, callbacks=[rec, *extra])
    return rec


def rows_per_epoch(run, key="log/loss"):
    t = run.table.to_pydict()
    counts = {}
    for e, k in zip(t["epoch"], t["key"]):
        if k == key:
            counts[e] = counts.get(e, 0) + 1
    return counts


def test_recorder_writes_every_epoch_and_maps_match_the_checkpoints(data, tmp_path):
    from convscope.engine import open_model
    from convscope.engine.learning import open_run

    model = build()
    fit(model, data, tmp_path / "run", epochs=2)
    run = open_run(tmp_path / "run")
    assert run.epochs == [0, 1, 2]
    assert sorted(run.scalars("log/loss")) == [1, 2]  # epoch 0 (untrained) has no logs
    assert set(run.scalars("stat/dead_channels", "conv2")) == {0, 1, 2}
    arr = run.arrays(2)
    maps = arr["map|gradcam|conv2"]
    assert maps.shape == (4, SIZE // 2, SIZE // 2) and maps.dtype == np.float32
    assert arr["channel_means|conv1"].shape == (8,)
    assert run.probes().shape == (4, SIZE, SIZE, 3)
    # the maps recorded during fit are those of each epoch's weights, computed by the
    # project's own machinery (not stale: epoch 0, 1 and 2 differ)
    for epoch in (0, 2):
        ck = open_model(run.checkpoint(epoch))
        again = np.stack([ck.cam(p, method="gradcam", layer="conv2").heatmap for p in data[2]])
        np.testing.assert_allclose(run.arrays(epoch)["map|gradcam|conv2"], again, atol=1e-4)
        probs = ck.scores(list(data[2]))
        np.testing.assert_allclose(run.arrays(epoch)["probs"], probs, atol=1e-5)
    assert not np.allclose(run.arrays(0)["map|gradcam|conv2"], maps, atol=1e-3)
    # the statistics: recomputed from the checkpoint's activations
    ck = open_model(run.checkpoint(2))
    acts = ck.activations(list(data[2]), layers=["conv1"])["conv1"]
    assert run.scalars("stat/mean", "conv1")[2] == pytest.approx(float(acts.mean()), rel=1e-4)
    assert run.scalars("stat/zero_fraction", "conv1")[2] == pytest.approx(float(np.mean(acts == 0)), abs=1e-6)
    np.testing.assert_allclose(arr["channel_means|conv1"], acts.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-6)
    top = run.scalars("pred/class", image=1)[2]
    assert top == int(np.argmax(arr["probs"][1]))


def test_interrupted_fit_resumed_into_the_same_folder_appends_without_duplicates(data, tmp_path):
    import keras

    from convscope.engine.learning import open_run

    class Crash(keras.callbacks.Callback):
        """Fails at the end of the 2nd epoch, after the Recorder (earlier in the list)
        has written it: the resumed fit re-runs that epoch, which must replace, not add."""

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("power cut")

    model = build()
    with pytest.raises(RuntimeError, match="power cut"):
        fit(model, data, tmp_path / "run", epochs=4, extra=[Crash()])
    run = open_run(tmp_path / "run")
    assert run.epochs == [0, 1, 2]
    # resumed from the last complete checkpoint before the crash: epoch 2 is trained again
    resumed = keras.saving.load_model(run.checkpoint(1))
    fit(resumed, data, tmp_path / "run", epochs=4, initial_epoch=1)
    run = open_run(tmp_path / "run")
    assert run.epochs == [0, 1, 2, 3, 4]
    assert rows_per_epoch(run) == {1: 1, 2: 1, 3: 1, 4: 1}
    assert rows_per_epoch(run, "pred/class") == {e: 4 for e in range(5)}
    # stop_training (e.g. EarlyStopping) then a resume with initial_epoch: appends
    model2 = build(1)

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    fit(model2, data, tmp_path / "run2", epochs=3, extra=[Stop()])
    assert open_run(tmp_path / "run2").epochs == [0, 1]
    fit(model2, data, tmp_path / "run2", epochs=3, initial_epoch=1)
    run2 = open_run(tmp_path / "run2")
    assert run2.epochs == [0, 1, 2, 3]
    assert rows_per_epoch(run2) == {1: 1, 2: 1, 3: 1}


def test_a_run_folder_with_another_recipe_is_refused(data, tmp_path):
    model = build()
    fit(model, data, tmp_path / "run", epochs=1, checkpoints=False)
    assert not os.path.exists(tmp_path / "run" / "checkpoints" / "epoch_001.keras")
    with pytest.raises(UserError, match="another recipe.*methods"):
        fit(model, data, tmp_path / "run", epochs=2, initial_epoch=1, methods=("gradcam++",),
            checkpoints=False)


def test_not_a_run_folder_is_one_clear_error(tmp_path):
    from convscope.engine.learning import open_run

    with pytest.raises(UserError, match="not found"):
        open_run(tmp_path / "missing")
    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "a.keras").write_bytes(b"x")
    with pytest.raises(UserError, match=r"not a ConvScope run: it has no run.json \(it holds 1 .keras"):
        open_run(tmp_path / "ck")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "run.json").write_text("{not json")
    with pytest.raises(UserError, match="not a ConvScope run file"):
        open_run(tmp_path / "bad")


def test_classes_label_filters_every_and_tensorboard(data, tmp_path):
    import tensorflow as tf

    from convscope.engine.learning import open_run

    model = build()
    x, y, probes, labels = data
    fit(model, data, tmp_path / "run", epochs=2, classes="label", labels=labels, every=2,
        filters={"conv1": [0, 3]}, filter_steps=3, filter_size=16, tensorboard=True,
        checkpoints=False)
    run = open_run(tmp_path / "run")
    assert run.epochs == [0, 2]  # every=2: epoch 1 skipped
    arr = run.arrays(2)
    assert arr["class|gradcam|conv2"].tolist() == [int(v) for v in labels]
    assert arr["patterns|conv1"].shape == (2, SIZE, SIZE, 3)  # a fixed input: its size and arr["patterns|conv1"].dtype == np.uint8
    score = run.scalars("pred/label_score", image=0)[2]
    assert score == pytest.approx(float(arr["probs"][0, labels[0]]), rel=1e-6)
    tags = set()
    folder = tmp_path / "run" / "tensorboard"
    for name in os.listdir(folder):
        for event in tf.compat.v1.train.summary_iterator(str(folder / name)):
            tags.update(v.tag for v in event.summary.value)
    assert {"overlay/gradcam/conv2", "channel_means/conv1", "stat/mean/conv1", "log/loss"} <= tags


def test_bad_recorder_arguments_are_one_line_errors(data, tmp_path):
    from convscope.engine import Recorder

    probes = data[2]
    with pytest.raises(UserError, match="labels="):
        Recorder(tmp_path, images=probes, classes="label")
    with pytest.raises(UserError, match="every"):
        Recorder(tmp_path, images=probes, every=0)
    with pytest.raises(UserError, match="classes must be"):
        Recorder(tmp_path, images=probes, classes="best")


def test_layer_statistics_by_hand():
    from convscope.engine.learning.stats import layer_stats

    a = np.zeros((2, 3, 3, 4), np.float32)
    a[0, 0, 0, 1] = 3.0  # channel 1 fires once
    a[:, :, :, 2] = 1.0  # channel 2 everywhere
    a[1, 2, 2, 3] = -2.0  # channel 3 once, negative (not dead: not all zero)
    scalars, means = layer_stats(a)
    assert scalars["dead_channels"] == 1  # channel 0 only
    assert scalars["zero_fraction"] == pytest.approx(1 - (1 + 18 + 1) / 72)
    assert scalars["mean"] == pytest.approx((3 + 18 - 2) / 72)
    assert scalars["std"] == pytest.approx(float(a.std()), rel=1e-6)
    np.testing.assert_allclose(means, [0, 3 / 18, 1, -2 / 18], rtol=1e-6)


def test_one_recorder_across_two_fits_follows_the_new_model(data, tmp_path):
    """Resuming with a model re-loaded from a checkpoint and the SAME Recorder object: the
    maps are the new model's, not the one the Recorder first wrapped."""
    import keras

    from convscope.engine import Recorder, open_model
    from convscope.engine.learning import open_run

    x, y, probes, _ = data
    rec = Recorder(tmp_path / "run", images=probes, methods=("Grad-CAM",))
    model = build()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False, callbacks=[rec])
    resumed = keras.saving.load_model(open_run(tmp_path / "run").checkpoint(1))
    resumed.fit(x, y, batch_size=16, epochs=2, initial_epoch=1, verbose=0, shuffle=False,
                callbacks=[rec])
    run = open_run(tmp_path / "run")
    assert run.epochs == [0, 1, 2] and run.meta["recipe"]["methods"] == ["gradcam"]
    ck = open_model(run.checkpoint(2))
    again = np.stack([ck.cam(p, layer="conv2").heatmap for p in probes])
    np.testing.assert_allclose(run.arrays(2)["map|gradcam|conv2"], again, atol=1e-4)
