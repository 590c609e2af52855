"""Building the Keras 3 model from a translated config, and naming the layers Keras 3
refuses when that fails."""
from __future__ import annotations

import copy

import keras

from ..errors import UserError
from .messages import _ADVICE, _first_line, _label, _problem_message
from .stand_ins import _CUSTOM_OBJECTS
from .translate import _Translation


def _scopes(trust_code: bool):
    from contextlib import ExitStack

    from keras.src.legacy.saving import saving_options
    from keras.src.saving import serialization_lib

    stack = ExitStack()
    stack.enter_context(saving_options.keras_option_scope(use_legacy_config=True))
    stack.enter_context(serialization_lib.SafeModeScope(not trust_code))
    from ..model_options import active_custom_objects

    # the user's --custom-objects (an outer scope) stay visible: Keras' scope replaces
    stack.enter_context(keras.saving.custom_object_scope(
        {**(active_custom_objects() or {}), **_CUSTOM_OBJECTS}))
    return stack


def _instantiate(entry: dict):
    from keras.src.legacy.saving import saving_utils
    from keras.src.saving import serialization_lib

    entry = copy.deepcopy({k: v for k, v in entry.items() if k != "inbound_nodes"})
    if "module" in entry:
        return serialization_lib.deserialize_keras_object(entry, custom_objects=_CUSTOM_OBJECTS)
    return saving_utils.model_from_config(entry, custom_objects=_CUSTOM_OBJECTS)


def _build(config: dict, t: _Translation, trust_code: bool):
    from keras.src.legacy.saving import saving_utils

    if t.uses_tf_ops and keras.backend.backend() != "tensorflow":
        raise UserError("this model calls TensorFlow functions (TFOpLambda layers); open it "
                        "with the TensorFlow backend of Keras")
    with _scopes(trust_code):
        try:
            # (a copy: Keras edits configs in place, and t.leaves share this one's entries)
            return saving_utils.model_from_config(copy.deepcopy(config),
                                                  custom_objects=_CUSTOM_OBJECTS)
        except Exception as exc:  # Keras raises many types here
            failure = exc
        # Name the layers Keras 3 refuses by building them one at a time.
        problems = []
        for where, entry in t.leaves:
            try:
                _instantiate(entry)
            except Exception as exc:
                problems.append(f"{_label(where, entry.get('class_name'))}: "
                                f"{_first_line(exc)}")
    if problems:
        raise UserError(_problem_message("this model", problems))
    raise UserError("the model's layers were translated but Keras 3 could not connect them: "
                    f"{_first_line(failure).rstrip('.')}. {_ADVICE}")
