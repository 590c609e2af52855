"""The one table of built-in architectures (`builtin:NAME`), without TensorFlow.

NAME -> Builtin(keras.applications constructor, default input side, preprocess_input
mode). engine.loading builds them; engine.preprocess picks their `auto` preprocessing;
the window lists them.
"""
from __future__ import annotations

from typing import NamedTuple


class Builtin(NamedTuple):
    ctor: str  # keras.applications attribute
    side: int  # default input side in pixels
    preprocess: str  # engine.preprocess mode its preprocess_input matches


BUILTINS: dict[str, Builtin] = {name: Builtin(*row) for name, row in {
    "vgg16": ("VGG16", 224, "caffe"), "vgg19": ("VGG19", 224, "caffe"),
    "resnet50": ("ResNet50", 224, "caffe"), "resnet101": ("ResNet101", 224, "caffe"),
    "resnet152": ("ResNet152", 224, "caffe"),
    "resnet50v2": ("ResNet50V2", 224, "tf"), "resnet101v2": ("ResNet101V2", 224, "tf"),
    "resnet152v2": ("ResNet152V2", 224, "tf"), "xception": ("Xception", 299, "tf"),
    "inceptionv3": ("InceptionV3", 299, "tf"),
    "inceptionresnetv2": ("InceptionResNetV2", 299, "tf"),
    "mobilenet": ("MobileNet", 224, "tf"), "mobilenetv2": ("MobileNetV2", 224, "tf"),
    # MobileNetV3, EfficientNet and ConvNeXt rescale inside the model.
    "mobilenetv3small": ("MobileNetV3Small", 224, "none"),
    "mobilenetv3large": ("MobileNetV3Large", 224, "none"),
    "efficientnetb0": ("EfficientNetB0", 224, "none"),
    "efficientnetb1": ("EfficientNetB1", 240, "none"),
    "efficientnetb2": ("EfficientNetB2", 260, "none"),
    "efficientnetb3": ("EfficientNetB3", 300, "none"),
    "efficientnetb4": ("EfficientNetB4", 380, "none"),
    "efficientnetv2b0": ("EfficientNetV2B0", 224, "none"),
    "efficientnetv2b3": ("EfficientNetV2B3", 300, "none"),
    "efficientnetv2s": ("EfficientNetV2S", 384, "none"),
    "efficientnetv2m": ("EfficientNetV2M", 480, "none"),
    "densenet121": ("DenseNet121", 224, "torch"), "densenet169": ("DenseNet169", 224, "torch"),
    "densenet201": ("DenseNet201", 224, "torch"),
    "nasnetmobile": ("NASNetMobile", 224, "tf"), "nasnetlarge": ("NASNetLarge", 331, "tf"), "convnexttiny": ("ConvNeXtTiny", 224, "none"),
}.items()}
