"""What a model's output is: the head kinds, read from the model or chosen by the user.

ConvScope always takes class scores BEFORE the model's own softmax / sigmoid (engine.hooks
strips it: "logits"); the head kind says how those logits are read:

| kind           | found when                                   | classes | probability shown         |
|----------------|----------------------------------------------|---------|---------------------------|
| `softmax`      | the output layer applies softmax             | k       | softmax(z)_c              |
| `sigmoid`      | the output layer applies a sigmoid           | k (2 for 1 unit) | sigmoid(score)   |
| `logits`       | a linear output of k >= 2 units              | k       | none: the logit itself    |
| `binary-logit` | ONE linear unit and two labels (labels.json) | 2       | sigmoid(score)            |
| `regression`   | ONE linear unit without two labels           | 1       | none: the output value    |

One unit, two classes (`sigmoid` with 1 unit, `binary-logit`): class 1's score is the
logit z, class 0's is -z (1 - sigmoid(z) = sigmoid(-z)), so class 0's gradient is exactly
the negated class-1 gradient (engine.cam.targets). This is how the TensorFlow transfer-
learning tutorial builds its cats-vs-dogs classifier: Dense(1), trained with
from_logits=True.

`--head KIND` (and the window's Model > Read output as menu) overrides the guess.
"""
from __future__ import annotations

from .errors import UserError
from .summary import HeadInfo

KINDS = ("softmax", "sigmoid", "logits", "binary-logit", "regression")
FLAG = "--head"


def check_kind(kind: str | None) -> str | None:
    """`kind` normalised (None: guess), or UserError naming the kinds."""
    if kind is None or kind == "" or kind == "auto":
        return None
    k = str(kind).strip().lower().replace("_", "-")
    if k == "binary":
        k = "binary-logit"
    if k not in KINDS:
        raise UserError(f"unknown head kind {kind!r}; use one of {', '.join(KINDS)} "
                        f"({FLAG} tells ConvScope how to read the model's output)")
    return k


def read(activation: str, output_shape: tuple, labels, kind: str | None = None) -> HeadInfo:
    """The HeadInfo of a model whose terminal layer applies `activation` (softmax, sigmoid or
    linear, engine.hooks.head_activation) to an output of `output_shape` (no batch axis).

    `labels`: the sidecar / built-in class names, or None. `kind`: the user's choice
    (check_kind), or None to guess from the model.
    """
    kind = check_kind(kind)
    if len(output_shape) != 1:
        if kind is not None:
            raise UserError(f"{FLAG} {kind}: this model's output is "
                            f"{HeadInfo('none', 0, 0, output_shape).describe_output()}, not a "
                            "vector of scores, so no head kind applies")
        return HeadInfo("none", 0, 0, tuple(output_shape), kind="none",
                        reason="the output is not a vector of scores")
    units = int(output_shape[0]) if output_shape[0] is not None else 1
    shape = (units,)
    two_labels = labels is not None and len(labels) == 2
    if kind is None:
        kind, reason = _guess(activation, units, two_labels)
        forced = False
    else:
        _check_fits(kind, units)
        reason = f"chosen with {FLAG} {kind}"
        forced = True
    squash = {"softmax": "softmax", "sigmoid": "sigmoid", "binary-logit": "sigmoid"}.get(kind, "linear")
    classes = {"binary-logit": 2, "regression": units}.get(kind, units)
    if kind == "sigmoid" and units == 1:
        classes = 2
    return HeadInfo(squash, units, classes, shape, kind=kind, reason=reason, forced=forced,
                    squashed=(squash == activation))


def _guess(activation: str, units: int, two_labels: bool) -> tuple[str, str]:
    if activation == "softmax":
        return "softmax", "the output layer applies softmax"
    if activation == "sigmoid":
        if units == 1:
            return "sigmoid", ("the output layer applies a sigmoid to one unit: class 1 = p, "
                               "class 0 = 1 - p")
        return "sigmoid", "the output layer applies a sigmoid (independent classes)"
    if units >= 2:
        return "logits", (f"a linear output of {units} units: read as class logits (the "
                          "model applies no softmax)")
    if two_labels:
        return "binary-logit", ("one linear unit and two labels: a binary logit z "
                                "(class 1 = z, class 0 = -z, probability = sigmoid)")
    return "regression", ("one linear unit and no two labels: explained as the output value "
                          f"(a labels file with two names, or {FLAG} binary-logit, reads it as a "
                          "binary classifier)")


def _check_fits(kind: str, units: int) -> None:
    if kind == "binary-logit" and units != 1:
        raise UserError(f"{FLAG} binary-logit needs a model with ONE output unit; this one "
                        f"has {units} (use {FLAG} logits or softmax)")
    if kind == "softmax" and units < 2:
        raise UserError(f"{FLAG} softmax needs at least two output units; this model has one "
                        f"(use {FLAG} binary-logit, sigmoid or regression)")
