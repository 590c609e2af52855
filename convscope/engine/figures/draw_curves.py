"""Deletion and insertion curves of several methods for one image (Petsiuk et al. 2018,
engine.cam.faithfulness): the input, then the class confidence as the most salient pixels
are removed (deletion, lower AUC = more faithful) or put back (insertion, higher AUC =
more faithful), each method's AUC in the legend."""
from __future__ import annotations

from . import layout as L
from .draw_maps import CAPTION_RIGHT

COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#F0E442")  # Okabe-Ito: distinguishable with colour-blindness


def draw(fig, data, options) -> dict:
    f = options.font_size / 72.0
    width = options.width_mm() * L.MM
    image = data.images[0]
    c = data.grid.row_class[0]
    conf = "probability" if data.conf_word == "p" else "score"
    what = f"class {data.name(c)} ({c})"
    if data.target:  # the target's own confidence (engine.targets.scorers says which)
        conf, what = "confidence", f"target {data.target}"
    caption = (f"{image.name}: {what}. Deletion: the most salient pixels "
               f"(by each map) set to black, lower AUC = more faithful; insertion: restored onto "
               f"a blurred copy, higher AUC = more faithful; {data.spec.curve_steps} steps.")
    left, gap, right = 0.02, 7.5 * f, 2.5 * f
    cap_lines = L.wrap(caption, width - left - CAPTION_RIGHT, options.font_size)
    plot_w = (width - left - 2 * gap - right) / 2.6
    img_w = 0.6 * plot_w
    plot_h = min(plot_w * 0.85, 3.0)
    top = 0.05 + (1.5 * f if options.title else 0.0) + 1.4 * f
    bottom = 0.05 + 4.0 * f + 1.3 * f * len(cap_lines)
    height = top + plot_h + bottom
    size = (width, height)
    fig.set_size_inches(size)
    y0 = bottom
    ih = min(plot_h, img_w * image.size[0] / image.size[1])
    ax_img = L.add_axes(fig, L.Box(left, y0 + plot_h - ih, img_w, ih), size)
    L.show(ax_img, L.fit_pixels(image.pixels, L.Box(0, 0, img_w, ih), options.dpi))
    ax_img.set_title("input", fontsize=options.font_size, pad=0.25 * options.font_size)
    axes = []
    for k, mode in enumerate(("deletion", "insertion")):
        x = left + img_w + gap * (k + 1) + plot_w * k
        ax = fig.add_axes((x / width, y0 / height, plot_w / width, plot_h / height))
        for i, (method, cv) in enumerate(data.curves.items()):
            xs, ys = cv[mode]
            ax.plot(xs, ys, color=COLOURS[i % len(COLOURS)], linewidth=1.0,
                    label=f"{cv['title']} (AUC {cv[mode + '_auc']:.3f})")
        ax.set_title(mode, fontsize=options.font_size, pad=0.25 * options.font_size)
        ax.set_xlabel(f"fraction of pixels {'deleted' if mode == 'deletion' else 'inserted'}",
                      fontsize=options.font_size, labelpad=1)
        ax.set_ylabel(f"{conf} of {data.name(c)}", fontsize=options.font_size, labelpad=1)
        ax.set_xlim(0, 1)
        if data.conf_word == "p":
            ax.set_ylim(0, 1.02)
        ax.tick_params(labelsize=options.font_size, length=2, width=0.5, pad=1)
        for spine in ("top", "right"):
            ax.spines[spine].set_visible(False)
        for spine in ("left", "bottom"):
            ax.spines[spine].set_linewidth(0.5)
        ax.legend(fontsize=options.font_size - 1, frameon=False, handlelength=1.5,
                  borderaxespad=0.2, loc="upper right" if mode == "deletion" else "lower right")
        if options.panel_labels:
            ax.text(-0.02, 1.02, "bc"[k], transform=ax.transAxes, ha="right", va="bottom",
                    fontsize=options.font_size + 1, fontweight="bold")
        axes.append(ax)
    if options.panel_labels:
        L.panel_letter(ax_img, 0, options.font_size)
    if options.title:
        fig.text(0.5, (height - 0.03) / height, options.title, ha="center", va="top",
                 fontsize=options.font_size + 1, fontweight="bold")
    if cap_lines:
        fig.text(left / width, (1.3 * f * len(cap_lines) + 0.03) / height, "\n".join(cap_lines),
                 ha="left", va="top", fontsize=options.font_size, linespacing=1.15)
    return {"size_in": [width, height],
            "auc": {m: {"deletion": cv["deletion_auc"], "insertion": cv["insertion_auc"]}
                    for m, cv in data.curves.items()}}
