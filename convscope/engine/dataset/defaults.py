"""The defaults of a dataset run, one set for the CLI (`convscope batch`), the window's
Tools → Run over a folder and the API (engine.dataset.explain.Settings), so their AUCs are
comparable: the same curve steps, metrics, methods and substrates. No TensorFlow here."""
from __future__ import annotations

METHODS = ("gradcam",)
METRICS = ("deletion", "insertion", "drop", "increase", "pointing", "energy")
CLASS_MODE = "top"
CURVE_STEPS = 50  # deletion / insertion curve steps (AUCs of different step counts differ)
# What deleted pixels become / what insertion starts from when no --substrate is given:
# RISE's (Petsiuk et al. 2018), as engine.cam.faithfulness.curves does with substrate=None
RISE_SUBSTRATES = {"deletion": "black", "insertion": "blur"}


def substrates(substrate: str | None) -> dict:
    """The substrate each curve used: {"deletion": ..., "insertion": ...}."""
    if substrate is None:
        return dict(RISE_SUBSTRATES)
    return {"deletion": substrate, "insertion": substrate}
