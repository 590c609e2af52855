"""Map figures never put one label on another, at any column count: 2 images x all 17
methods rendered to PDF, every word's box read back with poppler's `pdftotext -bbox`
(installed by .ci/run), and no two boxes may intersect; words that ran together
("LayerCAMHiResCAM", "triangletriangle") are caught as words no label contains."""
import dataclasses
import itertools
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from convscope.engine.cli import main as cli
from convscope.engine.loading import DEMO_PATH

SAMPLES = os.path.join(os.path.dirname(DEMO_PATH), "..", "samples")
STAR = os.path.join(SAMPLES, "demo_star.png")
CAT = os.path.join(SAMPLES, "cat.jpg")
WORD = re.compile(r'<word xMin="([-\d.]+)" yMin="([-\d.]+)" xMax="([-\d.]+)" yMax="([-\d.]+)">([^<]*)</word>')
TICKS = {"0.0", "0.5", "1.0", "0", "1", "\u22121", "-1", "-1.0", "\u22121.0"}


def words(pdf) -> list:
    """(page, x0, y0, x1, y1, text) of every word poppler finds in the PDF."""
    assert shutil.which("pdftotext"), "poppler-utils (pdftotext) is needed: see .ci/run"
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True,
                         check=True).stdout
    found = []
    for p, page in enumerate(out.split("<page ")[1:]):
        for m in WORD.finditer(page):
            x0, y0, x1, y1 = map(float, m.groups()[:4])
            found.append((p, x0, y0, x1, y1, m.group(5).replace("&apos;", "'").replace("&amp;", "&")))
    return found


def intersecting(found, tol=0.25) -> list:
    """Pairs of words whose boxes overlap by more than `tol` points both ways."""
    bad = []
    for a, b in itertools.combinations(found, 2):
        if a[0] == b[0] and min(a[3], b[3]) - max(a[1], b[1]) > tol and \
                min(a[4], b[4]) - max(a[2], b[2]) > tol:
            bad.append((a[5], b[5]))
    return bad


def strays(found, texts) -> list:
    """Words that are part of no label: two labels that ran into each other."""
    vocab = [w for t in texts for w in t.replace("\n", " ").split()] + list(TICKS)
    return [w[5] for w in found if w[5] != "…" and not any(w[5].rstrip("…") in v for v in vocab)]


@pytest.fixture(scope="module")
def data17(demo_model):
    """The maps of 2 images x every registered method (17), computed once."""
    from convscope.engine.cam import registry
    from convscope.engine.figures import FigureSpec, compute
    from convscope.engine.images import load_image

    methods = registry.names(None)
    assert len(methods) == 17
    spec = FigureSpec(kind="methods", images=(STAR, CAT), methods=methods)
    return compute(demo_model, spec, [load_image(p) for p in spec.images])


def texts_of(data, options):
    from convscope.engine.figures import draw_maps

    labels = [draw_maps._row_label(data, r) for r in range(len(data.grid.cells))]
    bars = [draw_maps._colorbar_label(data, s) for s in (None, True, False)]
    return (["input"] + list(data.grid.col_titles) + labels + bars +
            [draw_maps._caption(data, options), options.title])


@pytest.mark.parametrize("width,font_size", [("double", 7), ("single", 7), ("double", 10),
                                             ("600", 7), ("60", 8)])
def test_17_methods_no_two_labels_intersect(data17, demo_model, tmp_path, width, font_size):
    from convscope.engine.figures import FigureOptions, draw, write

    options = FigureOptions(width=width, font_size=font_size, title="Seventeen ways to explain a star")
    made = draw(demo_model, data17, options, "pdf")
    write(made, str(tmp_path / "f.pdf"))
    found = words(tmp_path / "f.pdf")
    assert len(found) > 60
    assert intersecting(found) == []
    assert strays(found, texts_of(data17, options)) == []
    # every method's title is there, whole (each piece, maybe broken after a hyphen)
    from convscope.engine.figures.text_fit import pieces

    for t in data17.grid.col_titles:
        for piece, _ in pieces(t):
            assert any(piece in w[5] for w in found), (t, piece)
    # 17 map columns do not fit one row of a journal page: the layout says what it did
    if width in ("double", "single", "60"):
        assert len(made.layout["bands"]) > 1
        assert any("rows of panels" in w for w in made.layout["warnings"])
    # every panel stays on the page
    w_in, h_in = made.layout["size_in"]
    for p in made.layout["panels"]:
        x, y, w, h = p["box_in"]
        assert 0 <= x and x + w <= w_in + 1e-6 and 0 <= y and y + h <= h_in + 1e-6


def test_long_class_names_wrap_beside_their_rows(data17, demo_model, tmp_path):
    """ImageNet-length labels (the row labels) wrap in their column instead of running
    into the images or each other."""
    from convscope.engine.figures import FigureOptions, draw, write

    long = ["African elephant, Loxodonta africana", "great white shark, white shark, man-eater"]
    data = dataclasses.replace(data17, labels=long + list(data17.labels[2:]))
    data.grid = dataclasses.replace(data17.grid, row_class=[0, 1])
    for cells in data.grid.cells:  # every map explains the row's class
        for c in cells:
            assert isinstance(c, str) or c.class_index in (data17.grid.row_class)
    options = FigureOptions(width="double")
    made = draw(demo_model, data, options, "pdf")
    write(made, str(tmp_path / "long.pdf"))
    found = words(tmp_path / "long.pdf")
    assert intersecting(found) == []
    inputs = [p for p in made.layout["panels"] if p["what"] == "input"]
    left_of_images = min(p["box_in"][0] for p in inputs) * 72
    for w in found:
        if w[5] in ("Loxodonta", "africana", "elephant,", "shark,", "man-eater"):
            assert w[3] <= left_of_images + 0.5, w  # the label ends before the image starts


def test_signed_maps_mixed_with_unsigned_get_their_own_coolwarm_bar(data17, demo_model):
    from convscope.engine.figures import FigureOptions
    from convscope.engine.figures.render import build
    import matplotlib

    from convscope.engine.figures.render import rc_params

    options = FigureOptions(width="double")
    with matplotlib.rc_context(rc_params(options)):
        fig, info = build(data17, options)
    bars = [ax for ax in fig.axes if getattr(ax, "_colorbar", None) is not None]
    assert len(bars) == 2
    assert sorted(b["colormap"] for b in info["colorbars"]) == ["coolwarm", "jet"]
    limits = sorted(tuple(round(v, 3) for v in ax.get_ylim()) for ax in bars)
    assert limits == [(-1.0, 1.0), (0.0, 1.0)]
    labels = sorted(ax.get_ylabel().replace("\n", " ") for ax in bars)
    assert labels[0].startswith("signed maps") and labels[1].startswith("unsigned maps")
    # only unsigned maps: one bar, no "signed" word
    kept = [i for i, t in enumerate(data17.grid.col_titles) if t in ("Grad-CAM", "Score-CAM")]
    grid = dataclasses.replace(data17.grid, col_titles=[data17.grid.col_titles[i] for i in kept],
                               cells=[[row[i] for i in kept] for row in data17.grid.cells])
    with matplotlib.rc_context(rc_params(options)):
        fig, _ = build(dataclasses.replace(data17, grid=grid), options)
    bars = [ax for ax in fig.axes if getattr(ax, "_colorbar", None) is not None]
    assert len(bars) == 1 and "signed" not in bars[0].get_ylabel()


def test_rows_are_labelled_with_the_class_their_maps_explain(demo_model, tmp_path):
    """One image explained for its top class, the other for a class given for it alone."""
    from convscope.engine.figures import FigureOptions, FigureSpec, make_figure

    spec = FigureSpec(kind="methods", images=(STAR, CAT), methods=("gradcam",),
                      classes=(None, "circle"))
    made = make_figure(demo_model, spec, FigureOptions(), out=str(tmp_path / "c.pdf"))
    found = [w[5] for w in words(tmp_path / "c.pdf")]
    assert "star" in found and "circle" in found  # row 1: its top class; row 2: the one given
    assert made.recipe["figure"]["classes"] == [None, "circle"]


def test_cli_figure_with_17_methods_warns_and_does_not_overlap(capsys, tmp_path):
    from convscope.engine.cam import registry

    out = tmp_path / "cli17.pdf"
    code = cli(["figure", "--model", "demo", "--image", STAR, "--image", CAT,
                "--methods", ",".join(registry.names(None)), "--out", str(out)])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert "warning: 17 methods do not fit side by side" in err
    assert intersecting(words(out)) == []


def test_one_short_row_with_signed_and_unsigned_maps_keeps_the_bars_apart(data17, demo_model, tmp_path):
    """One wide image, one unsigned and one signed map: two colour bars beside a short row;
    their tick labels must not meet each other or the caption."""
    from convscope.engine.figures import FigureOptions, draw, write

    g = data17.grid
    keep = [g.col_titles.index("Grad-CAM"), g.col_titles.index("Integrated Gradients")]
    grid = dataclasses.replace(g, col_titles=[g.col_titles[i] for i in keep],
                               cells=[[g.cells[1][i] for i in keep]], row_class=g.row_class[1:],
                               row_conf=g.row_conf[1:])
    data = dataclasses.replace(data17, grid=grid, images=data17.images[1:])
    for width in ("double", "single"):
        made = draw(demo_model, data, FigureOptions(width=width), "pdf")
        write(made, str(tmp_path / "short.pdf"))
        assert len(made.layout["colorbars"]) == 2
        assert intersecting(words(tmp_path / "short.pdf")) == [], width


@pytest.mark.parametrize("dpi", [100, 150])
def test_raster_row_labels_stay_inside_the_page(data17, demo_model, dpi):
    """Agg hints glyphs to pixels (a line can render wider than its outline's advance):
    the row labels still start inside the figure, nothing is cut at its left edge."""
    import io

    from PIL import Image

    from convscope.engine.figures import FigureOptions, draw

    made = draw(demo_model, data17, FigureOptions(width="double", dpi=dpi), "png")
    grey = np.asarray(Image.open(io.BytesIO(made.content)).convert("L"))
    assert (grey[:, :2] < 160).sum() == 0
    assert (grey[:, :40] < 160).sum() > 50  # ... and the labels are there
