"""Activations: values equal what the layers compute (top-level and nested), one pass for
many layers, and the grid rendering matches the seeds' recipe."""
import numpy as np
import pytest

from convscope.engine.explore import activation_view
from convscope.engine import grid, load_image, open_model


@pytest.fixture(scope="module")
def nested(nested_path):
    return open_model(nested_path)


def test_nested_inner_layer_equals_inner_model_alone(nested, images_dir):
    import keras

    img = load_image(images_dir / "photo.jpg")
    paths = ["mobilenetv2_0.35_64/block_3_expand_relu", "mobilenetv2_0.35_64/out_relu",
             "head_block/inner_block/squeeze", "gap"]
    acts = nested.activations(img, paths)
    x = nested.prepare(img)
    base = nested.keras_model.get_layer("mobilenetv2_0.35_64")
    for name in ("block_3_expand_relu", "out_relu"):
        sub = keras.Model(base.inputs, base.get_layer(name).output)
        ref = sub(x, training=False).numpy()[0]
        np.testing.assert_allclose(acts[f"mobilenetv2_0.35_64/{name}"], ref, rtol=1e-4, atol=1e-5)
    # two levels down: run the inner Sequential on the base's output
    head = nested.keras_model.get_layer("head_block")
    inner = head.get_layer("inner_block")
    feat = base(x, training=False)
    np.testing.assert_allclose(acts["head_block/inner_block/squeeze"], inner(feat).numpy()[0],
                               rtol=1e-4, atol=1e-5)
    # a top-level layer: the GAP of the head block's output
    np.testing.assert_allclose(acts["gap"], head(feat).numpy()[0].mean(axis=(0, 1)), rtol=1e-4, atol=1e-6)


def test_sequential_layers_match_submodel_and_batch(seq_sigmoid_path, images_dir):
    import keras

    m = open_model(seq_sigmoid_path)
    imgs = [load_image(images_dir / n) for n in ("plain.png", "gray.png", "alpha.png")]
    acts = m.activations(imgs, ["conv2d_1", "max_pooling2d_2"])
    assert acts["conv2d_1"].shape == (3, 46, 46, 8)
    x = m.prepare(imgs)
    km = m.keras_model
    sub = keras.Sequential(km.layers[:4])  # conv, pool, conv, pool
    np.testing.assert_allclose(acts["max_pooling2d_2"], sub(x).numpy(), rtol=1e-4, atol=1e-5)
    single = m.activations(imgs[1], ["conv2d_1"])["conv2d_1"]
    np.testing.assert_allclose(single, acts["conv2d_1"][1], rtol=1e-5, atol=1e-6)


def test_all_spatial_layers_in_one_call(nested, images_dir):
    acts = nested.activations(load_image(images_dir / "plain.png"))
    spatial = [i.path for i in nested.layers if i.spatial and not i.is_container and i.class_name != "InputLayer"]
    assert list(acts) == spatial and len(acts) > 100
    for path in spatial[:: 10]:
        assert acts[path].shape == nested.layer(path).output_shape


def _seed_grid(layer_activation, images_per_row):
    """The seeds' loop (001/003), kept verbatim in spirit, as the reference."""
    n_features = layer_activation.shape[-1]
    size = layer_activation.shape[1]
    n_cols = n_features // images_per_row
    display = np.zeros((size * n_cols, images_per_row * size))
    for col in range(n_cols):
        for row in range(images_per_row):
            ch = layer_activation[0, :, :, col * images_per_row + row].astype(np.float64).copy()
            ch -= ch.mean()
            ch /= ch.std()
            ch *= 64
            ch += 128
            ch = np.clip(ch, 0, 255).astype("uint8")
            display[col * size:(col + 1) * size, row * size:(row + 1) * size] = ch
    return display


def test_grid_matches_seed_recipe():
    rng = np.random.default_rng(3)
    act = rng.normal(size=(9, 9, 32)).astype(np.float32) * rng.uniform(0.1, 5, 32)
    ref = _seed_grid(act[None], 8)
    ours = activation_view.render_grid(act, per_row=8, mode="channel", colormap=None, margin=0)
    assert ours.shape == ref.shape
    assert np.abs(ours.astype(int) - ref.astype(int)).max() <= 1  # float32 vs float64 rounding


def test_dead_channels_layer_minmax_and_constant_channel():
    act = np.random.default_rng(0).uniform(0, 3, (4, 5, 6)).astype(np.float32)
    act[..., [1, 4]] = 0.0
    act[..., 2] = 7.0  # constant, not dead
    assert activation_view.dead_channels(act).tolist() == [1, 4]
    tiles = activation_view.normalise(act, "channel")
    assert (tiles[1] == 128).all() and (tiles[2] == 128).all()  # no NaN from std = 0
    lm = activation_view.normalise(act, "layer")
    assert lm.max() == 255 and lm.min() == 0 and (lm[2] == 255).all()
    stats = activation_view.channel_stats(act, 2)
    assert stats.maximum == 7.0 and stats.std == 0.0 and stats.fraction_positive == 1.0


def test_tile_layout_and_cell_lookup():
    tiles = np.arange(5 * 2 * 3).reshape(5, 2, 3) + 1
    g = grid.tile(tiles, per_row=3, margin=1, fill=0)
    assert g.shape == (2 * 2 + 1, 3 * 3 + 2)
    np.testing.assert_array_equal(g[3:5, 4:7], tiles[4])  # row 1, col 1
    assert (g[3:5, 8:11] == 0).all()  # empty cell
    assert grid.cell_at(3, 4, (2, 3), 3, 5) == 4
    assert grid.cell_at(2, 0, (2, 3), 3, 5) is None  # on the margin
    assert grid.cell_at(4, 9, (2, 3), 3, 5) is None  # the empty cell


def test_input_layers_record_what_the_model_is_fed(nested, images_dir):
    img = load_image(images_dir / "plain.png")
    x = nested.prepare(img)[0]
    acts = nested.activations(img, [nested.layers[0].path,
                                    "mobilenetv2_0.35_64/" + nested.keras_model.get_layer("mobilenetv2_0.35_64").layers[0].name])
    for a in acts.values():
        np.testing.assert_allclose(a, x, rtol=1e-6)  # the base is fed the input unchanged


def test_output_files_get_the_usual_mode(tmp_path):
    import os

    from convscope.engine import outputs

    outputs.save_png(str(tmp_path / "a.png"), np.zeros((4, 4, 3), np.uint8))
    mask = os.umask(0)
    os.umask(mask)
    assert (os.stat(tmp_path / "a.png").st_mode & 0o777) == (0o666 & ~mask)
