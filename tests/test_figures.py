"""Figures for papers: real files written by `convscope figure`, parsed back (pypdf, XML,
PIL) and checked against the engine's own numbers."""
import base64
import io
import json
import os
import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image as P

from convscope.engine.cli import main as cli
from convscope.engine.loading import DEMO_PATH

SAMPLES = os.path.join(os.path.dirname(DEMO_PATH), "..", "samples")
STAR = os.path.join(SAMPLES, "demo_star.png")
CIRCLE = os.path.join(SAMPLES, "demo_circle.png")
SVG = "{http://www.w3.org/2000/svg}"


def run(capsys, *argv):
    code = cli(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_pdf_text_layer_names_methods_and_class_with_fonts_embedded(capsys, tmp_path):
    from pypdf import PdfReader

    out = tmp_path / "fig.pdf"
    code, _, err = run(capsys, "figure", "--model", "demo", "--image", STAR, "--image", CIRCLE,
                       "--methods", "gradcam,gradcam++,scorecam", "--out", str(out))
    assert code == 0, err
    page = PdfReader(out).pages[0]
    text = page.extract_text()
    for name in ("input", "Grad-CAM", "Grad-CAM++", "Score-CAM", "star", "circle"):
        assert name in text, name
    # 183 mm wide (double column), in PDF points
    assert float(page.mediabox.width) == pytest.approx(183 / 25.4 * 72, abs=0.01)
    fonts = page["/Resources"]["/Font"]
    embedded = []
    for font in fonts.values():
        font = font.get_object()
        for d in font.get("/DescendantFonts", [font]):
            desc = d.get_object().get("/FontDescriptor")
            embedded.append(desc is not None and "/FontFile2" in desc.get_object())
    assert embedded and all(embedded)  # TrueType (pdf.fonttype 42), not outlines or Type 3
    # the recipe is in the sidecar and embedded, and they agree
    side = json.loads((tmp_path / "fig.pdf.json").read_text())
    inside = json.loads(PdfReader(out).metadata["/ConvScopeRecipe"])
    assert side == inside and side["figure"]["methods"] == ["gradcam", "gradcam++", "scorecam"]
    assert side["model"]["sha256"] and side["images"][0]["sha256"]


def test_methods_figure_says_when_a_method_does_not_apply(capsys, tmp_path, seq_sigmoid_path, images_dir):
    from pypdf import PdfReader

    out = tmp_path / "na.pdf"
    code, _, err = run(capsys, "figure", "--model", seq_sigmoid_path, "--image",
                       str(images_dir / "plain.png"), "--methods", "cam,gradcam", "--out", str(out))
    assert code == 0, err
    text = " ".join(PdfReader(out).pages[0].extract_text().split())
    assert "CAM does not apply here" in text and "Grad-CAM" in text


def test_svg_has_text_and_embedded_image_at_its_own_resolution(capsys, tmp_path):
    out = tmp_path / "fig.svg"
    code, _, err = run(capsys, "figure", "--model", "demo", "--image", STAR,
                       "--methods", "gradcam,layercam", "--out", str(out))
    assert code == 0, err
    root = ET.parse(out).getroot()
    texts = " ".join("".join(t.itertext()) for t in root.iter(SVG + "text"))
    assert "Grad-CAM" in texts and "LayerCAM" in texts and "star" in texts
    sizes = []
    for im in root.iter(SVG + "image"):
        href = im.get("{http://www.w3.org/1999/xlink}href") or im.get("href")
        assert href.startswith("data:image/png;base64,")
        sizes.append(P.open(io.BytesIO(base64.b64decode(href.split(",", 1)[1]))).size)
    # input + 2 overlays, embedded as the 96 x 96 bitmaps they are (no resampling)
    assert sizes.count((96, 96)) == 3
    assert "<dc:date>" not in out.read_text()


def test_png_has_the_asked_dpi_and_width(capsys, tmp_path):
    out = tmp_path / "fig.png"
    code, _, err = run(capsys, "figure", "--model", "demo", "--image", STAR, "--width", "double",
                       "--dpi", "300", "--out", str(out))
    assert code == 0, err
    im = P.open(out)
    assert abs(im.size[0] - 2161) <= 2  # 183 mm at 300 dpi
    assert im.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    code, _, err = run(capsys, "figure", "--model", "demo", "--image", STAR, "--width", "single",
                       "--dpi", "150", "--out", str(out))
    assert abs(P.open(out).size[0] - round(89 / 25.4 * 150)) <= 2


def test_alpha_one_gray_panel_is_the_heatmap_of_cam_npy(capsys, tmp_path):
    """The picture a reader sees is the real map: the overlay panel at alpha 1 through a
    grey colour map, shrunk back to the layer's resolution, correlates with `cam --npy`."""
    npy, png = tmp_path / "h.npy", tmp_path / "fig.png"
    code, _, err = run(capsys, "cam", "--model", "demo", "--image", STAR, "--method", "gradcam++",
                       "--out", str(tmp_path / "o.png"), "--npy", str(npy))
    assert code == 0, err
    code, _, err = run(capsys, "figure", "--model", "demo", "--image", STAR, "--method", "gradcam++",
                       "--kind", "cam", "--alpha", "1", "--colormap", "gray", "--no-heatmap",
                       "--out", str(png))
    assert code == 0, err
    heat = np.load(npy)
    recipe = json.loads((tmp_path / "fig.png.json").read_text())
    panel = [p for p in recipe["layout"]["panels"] if p["what"] == "overlay"][0]
    pix = np.asarray(P.open(png).convert("L"), np.float64)
    dpi, (H, _) = 300, pix.shape
    x, y, w, h = panel["box_in"]
    x0, x1 = round(x * dpi) + 1, round((x + w) * dpi) - 1  # inside the panel's edge pixels
    y0, y1 = H - round((y + h) * dpi) + 1, H - round(y * dpi) - 1
    crop = pix[y0:y1, x0:x1]
    import cv2

    small = cv2.resize(crop, heat.shape[::-1], interpolation=cv2.INTER_AREA)
    r = np.corrcoef(small.ravel(), heat.ravel())[0, 1]
    assert r >= 0.99, r
    # and the grey levels are the map's values (gray LUT: v -> 255 v)
    assert np.abs(small / 255.0 - heat).mean() < 0.05


def test_recipe_remakes_identical_png_pdf_svg_and_tiff(capsys, tmp_path):
    for ext in ("png", "pdf", "svg", "tif"):
        first, again = tmp_path / f"a.{ext}", tmp_path / f"b.{ext}"
        code, _, err = run(capsys, "figure", "--model", "demo", "--image", STAR, "--image", CIRCLE,
                           "--methods", "gradcam,eigencam", "--panel-labels", "--title", "T",
                           "--out", str(first))
        assert code == 0, err
        recipe = str(first) if ext != "pdf" else str(first) + ".json"  # others: the embedded copy
        code, _, err = run(capsys, "figure", "--recipe", recipe, "--out", str(again))
        assert code == 0, err
        if ext in ("png", "tif"):
            assert np.array_equal(np.asarray(P.open(first)), np.asarray(P.open(again)))
        assert first.read_bytes() == again.read_bytes()
        if ext == "pdf":
            assert b"/CreationDate" not in first.read_bytes()  # no date: same inputs, same bytes


def test_changed_model_file_is_refused(capsys, tmp_path):
    model = tmp_path / "m.keras"
    shutil.copy(DEMO_PATH, model)
    shutil.copy(os.path.splitext(DEMO_PATH)[0] + ".labels.json", tmp_path / "m.labels.json")
    fig = tmp_path / "f.png"
    code, _, err = run(capsys, "figure", "--model", str(model), "--image", STAR, "--out", str(fig))
    assert code == 0, err
    with open(model, "ab") as f:
        f.write(b"\0")  # one byte more: another file
    before = fig.read_bytes()
    code, out, err = run(capsys, "figure", "--recipe", str(fig) + ".json")
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ")
    assert "m.keras has changed" in err and "--allow-changed-inputs" in err
    assert fig.read_bytes() == before


def test_changed_image_needs_allow_changed_inputs(capsys, tmp_path):
    img = tmp_path / "star.png"
    shutil.copy(STAR, img)
    fig = tmp_path / "f.png"
    assert run(capsys, "figure", "--model", "demo", "--image", str(img), "--out", str(fig))[0] == 0
    px = np.asarray(P.open(img)).copy()
    px[:10, :10] = 0
    P.fromarray(px).save(img)
    code, _, err = run(capsys, "figure", "--recipe", str(fig))
    assert code == 2 and "star.png has changed" in err
    code, _, err = run(capsys, "figure", "--recipe", str(fig), "--allow-changed-inputs",
                       "--out", str(tmp_path / "g.png"))
    assert code == 0 and "warning: image" in err
    new = json.loads((tmp_path / "g.png.json").read_text())
    assert new["images"][0]["sha256"] != json.loads((tmp_path / "f.png.json").read_text())["images"][0]["sha256"]


def test_bad_recipes_are_one_line_errors(capsys, tmp_path):
    fig = tmp_path / "f.png"
    assert run(capsys, "figure", "--model", "demo", "--image", STAR, "--out", str(fig))[0] == 0
    recipe = json.loads((tmp_path / "f.png.json").read_text())
    newer = dict(recipe, convscope_recipe=recipe["convscope_recipe"] + 1)
    (tmp_path / "newer.json").write_text(json.dumps(newer))
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    (tmp_path / "broken.json").write_text("{not json")
    cases = {"newer.json": "newer than this one", "other.json": "not a ConvScope figure recipe",
             "broken.json": "not valid JSON"}
    for name, words in cases.items():
        code, _, err = run(capsys, "figure", "--recipe", str(tmp_path / name), "--out",
                           str(tmp_path / "x.png"))
        assert code == 2 and words in err and err.count("\n") == 1, (name, err)
    assert not (tmp_path / "x.png").exists()
    code, _, err = run(capsys, "figure", "--model", "demo", "--image", STAR, "--kind", "pie",
                       "--out", str(tmp_path / "y.pdf"))
    assert code == 2 and "unknown figure kind" in err and not (tmp_path / "y.pdf").exists()
    code, _, err = run(capsys, "figure", "--model", "demo", "--image", STAR, "--out",
                       str(tmp_path / "y.jpg"))
    assert code == 2 and ".pdf, .svg, .png or .tif" in err
    code, _, err = run(capsys, "figure", "--model", "demo", "--kind", "filters", "--layer", "conv1",
                       "--size", "2", "--out", str(tmp_path / "y.pdf"))
    assert code == 2 and "--size must be between" in err and err.count("\n") == 1


def test_npy_dir_holds_the_arrays_drawn(capsys, tmp_path, demo_model):
    from convscope.engine import load_image

    d = tmp_path / "arrays"
    d.mkdir()
    code, _, err = run(capsys, "figure", "--model", "demo", "--image", STAR, "--methods",
                       "gradcam,hirescam", "--out", str(tmp_path / "f.svg"), "--npy-dir", str(d))
    assert code == 0, err
    names = sorted(os.listdir(d))
    assert "image_0.npy" in names and len([n for n in names if n.startswith("heatmap_")]) == 2
    ref = demo_model.cam(load_image(STAR), method="hirescam")
    got = np.load(d / [n for n in names if "hirescam" in n][0])
    np.testing.assert_allclose(got, ref.heatmap, atol=1e-6)


def test_known_maps_are_reused_not_recomputed(demo_model, tmp_path):
    """A map handed in (what the window already shows) is drawn as it is: a doctored map
    comes out in the figure's arrays, so it was not computed again."""
    import dataclasses

    from convscope.engine import load_image
    from convscope.engine.figures import FigureOptions, FigureSpec, compute

    img = load_image(STAR)
    real = demo_model.cam(img, method="gradcam")
    doctored = dataclasses.replace(real, heatmap=np.full_like(real.heatmap, 0.25))
    spec = FigureSpec(kind="methods", images=(STAR,), methods=("gradcam", "eigencam"))
    data = compute(demo_model, spec, [img], known=[doctored])
    arrays = data.arrays()
    grad = [v for k, v in arrays.items() if "gradcam" in k][0]
    eig = [v for k, v in arrays.items() if "eigencam" in k][0]
    assert np.all(grad == 0.25)
    np.testing.assert_allclose(eig, demo_model.cam(img, method="eigencam").heatmap, atol=1e-6)
    assert FigureOptions().width_mm() == 183.0


@pytest.mark.parametrize("kind,extra", [
    ("layers", ["--layers", "conv3,conv5"]),
    ("classes", ["--top-classes", "2"]),
    ("activations", ["--layer", "conv4", "--top", "8"]),
    ("curves", ["--methods", "gradcam,eigencam", "--curve-steps", "8"]),
])
def test_other_kinds_write_their_labels(capsys, tmp_path, kind, extra):
    from pypdf import PdfReader

    out = tmp_path / f"{kind}.pdf"
    code, _, err = run(capsys, "figure", "--model", "demo", "--image", STAR, "--kind", kind,
                       "--out", str(out), *extra)
    assert code == 0, err
    text = " ".join(PdfReader(out).pages[0].extract_text().split())
    expect = {"layers": ["conv3", "conv5", "Grad-CAM"], "classes": ["star", "p ="],
              "activations": ["8 most active of 128 channels", "conv4"],
              "curves": ["deletion", "insertion", "AUC", "Eigen-CAM"]}[kind]
    for word in expect:
        assert word in text, (word, text[:400])
    if kind == "curves":
        aucs = json.loads((tmp_path / f"{kind}.pdf.json").read_text())["layout"]["auc"]
        assert all(0.0 <= v["deletion"] <= 1.0 and 0.0 <= v["insertion"] <= 1.0 for v in aucs.values())


def test_activation_channels_are_the_most_active():
    from convscope.engine.figures.data import top_channels

    act = np.zeros((4, 4, 6), np.float32)
    act[..., 4], act[..., 1], act[..., 2] = 3.0, 2.0, 2.0
    assert top_channels(act, 3).tolist() == [4, 1, 2]  # ties by index
    assert top_channels(act, None).tolist() == list(range(6))


def test_filters_figure_labels_each_pattern(capsys, tmp_path):
    from pypdf import PdfReader

    out = tmp_path / "f.pdf"
    code, _, err = run(capsys, "figure", "--model", "demo", "--kind", "filters", "--layer", "conv2",
                       "--filters", "3-6", "--steps", "3", "--out", str(out), "--width", "single")
    assert code == 0, err
    text = PdfReader(out).pages[0].extract_text()
    assert all(re.search(rf"\b{i}\b", text) for i in (3, 4, 5, 6)) and "conv2" in text


def test_caption_and_colour_bar_say_how_pixel_and_signed_maps_are_scaled(capsys, tmp_path):
    """CAMs are ReLU + min-max; Integrated Gradients keeps its sign (coolwarm, [-1, 1]): the
    caption names each scaling present, and a figure of signed maps only has a -1 tick."""
    from pypdf import PdfReader

    def text_of(name, *argv):
        out = tmp_path / name
        code, _, err = run(capsys, "figure", "--model", "demo", "--image", STAR, *argv,
                           "--out", str(out))
        assert code == 0, err
        return " ".join(PdfReader(out).pages[0].extract_text().split())

    mixed = text_of("mixed.pdf", "--methods", "gradcam,integrated-gradients")
    assert "ReLU, then min-max" in mixed and "signed maps" in mixed and "coolwarm" in mixed
    only_cam = text_of("cam.pdf", "--methods", "gradcam,eigencam")
    assert "ReLU, then min-max" in only_cam and "signed maps" not in only_cam
    ig = text_of("ig.pdf", "--kind", "cam", "--method", "integrated-gradients")
    assert "signed maps" in ig and "ReLU" not in ig
    assert re.search(r"[−-]1(\.0)? 0(\.0)? 1", ig) and not re.search(r"[−-]1", only_cam)


def test_a_window_map_of_a_signed_method_is_drawn_as_one(demo_model):
    """The window hands its CamReady messages (plain arrays) to the figure: an Integrated
    Gradients map must come back as the signed pixel map it is, not as a CAM."""
    from convscope.engine import jobs as J
    from convscope.engine import load_image
    from convscope.engine.figures import FigureSpec, compute

    img = load_image(STAR)
    r = demo_model.cam(img, method="integrated-gradients", steps=8)
    ready = J.CamReady(job_id=1, channel="cam", method=r.method, layer=r.layer,
                       class_index=r.class_index, label=r.label, score=r.score,
                       heatmap=np.full_like(r.heatmap, -0.5), pixels=img.pixels,
                       display=r.display)
    spec = FigureSpec(kind="cam", images=(STAR,), methods=("integrated-gradients",))
    cell = compute(demo_model, spec, [img], known=[ready]).grid.cells[0][0]
    assert cell.kind == "pixel" and cell.signed
    assert np.all(cell.heatmap == -0.5)  # the window's map, not a recomputed one
    import dataclasses

    # drawn over grey in coolwarm as the window draws it, not blended as a CAM
    assert np.array_equal(cell.overlay(), dataclasses.replace(r, heatmap=cell.heatmap).overlay())


@pytest.mark.parametrize("argv", [
    ["--methods", "gradcam,integrated-gradients,saliency,occlusion", "--image", CIRCLE],
    ["--kind", "activations", "--layer", "conv4", "--top", "8", "--width", "single"],
])
def test_the_caption_stays_on_the_page(capsys, tmp_path, argv):
    """Captions are wrapped by their measured width from where they start (after the row
    labels): the figure's right margin stays blank, at double and single column width."""
    out = tmp_path / "fig.png"
    code, _, err = run(capsys, "figure", "--model", "demo", "--image", STAR, *argv,
                       "--out", str(out))
    assert code == 0, err
    grey = np.asarray(P.open(out).convert("L"))
    assert grey[:, -4:].min() == 255
