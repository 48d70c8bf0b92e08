"""Model specs: ResNets built by the subject's model namespace (torchvision's names)."""

from hypothesis import strategies as st

from properties.models import ModelSpec, TrajectorySpec, example, register


@st.composite
def small_resnets(draw):
    """A small ResNet (``resnet_small``'s arguments: block, depth and width of 1-3 stages, the
    stem, input channels, classes; grouped and dilated bottlenecks), a batch, an image size and
    the mode: a batch of 1 only in evaluation mode (training batch norm needs two values)."""
    bottleneck = draw(st.booleans())
    stages = draw(st.integers(1, 3))
    base = draw(st.sampled_from((4, 8)))
    kwargs = {"block": "bottleneck" if bottleneck else "basic",
              "layers": tuple(draw(st.integers(1, 2)) for _ in range(stages)),
              "widths": tuple(base << i for i in range(stages)),
              "in_channels": draw(st.integers(1, 3)), "num_classes": draw(st.integers(2, 10))}
    if bottleneck and draw(st.booleans()):
        kwargs["groups"] = 2
    if bottleneck and stages > 1 and draw(st.booleans()):
        kwargs["replace_stride_with_dilation"] = tuple(draw(st.booleans())
                                                       for _ in range(stages - 1))
    small_input = draw(st.booleans())
    if not small_input:
        kwargs["small_input"] = False  # torchvision's 7×7 stride-2 stem and 3×3 max-pool
    size = draw(st.integers(6, 20) if small_input else st.integers(12, 40))
    batch = draw(st.sampled_from((2, 3, 1)))  # Hypothesis favours the first: training batches
    train = batch > 1 and not draw(st.booleans())
    return example("resnet_small", batch, size, train, draw(st.integers(0, 2**31 - 1)),
                   **kwargs)


def _get(ex, name, default=None):
    return ex.arguments.get(name, default)


def _projection(ex):
    """Whether a block has a 1×1-conv shortcut: a stage that strides or changes width (a
    bottleneck's first block always widens: planes · 4)."""
    return _get(ex, "block") == "bottleneck" or len(_get(ex, "layers")) > 1


register(
    ModelSpec(
        "models.resnet_small",
        examples=small_resnets(),
        cases=[
            ("basic, two stages", example("resnet_small", 2, 12, True, 1, block="basic",
                                          layers=(1, 1), widths=(4, 8), in_channels=3,
                                          num_classes=5)),
            ("bottleneck, eval batch of one", example(
                "resnet_small", 1, 9, False, 2, block="bottleneck", layers=(1, 2),
                widths=(4, 8), in_channels=1, num_classes=3)),
        ],
        drawn={"quick": 1, "ci": 4, "deep": 24},
        regions={
            "basic block": lambda ex: _get(ex, "block") == "basic",
            "bottleneck block": lambda ex: _get(ex, "block") == "bottleneck",
            "projection shortcut": _projection,
            "identity shortcut": lambda ex: any(n > 1 for n in _get(ex, "layers"))
            or not _projection(ex),
            "three stages": lambda ex: len(_get(ex, "layers")) == 3,
            "imagenet stem": lambda ex: _get(ex, "small_input", True) is False,
            "one input channel": lambda ex: _get(ex, "in_channels") == 1,
            "grouped bottleneck": lambda ex: _get(ex, "groups", 1) > 1,
            "dilated stage": lambda ex: any(_get(ex, "replace_stride_with_dilation", ())),
            "eval, batch of one": lambda ex: not ex.train and ex.batch == 1,
            "eval, batch of several": lambda ex: not ex.train and ex.batch > 1,
            "odd image size": lambda ex: ex.size % 2 == 1,
        },
    ),
    ModelSpec("models.resnet18", cases=[("64×64, batch 2", example("resnet18", 2, 64, seed=3))],
              profiles=("ci", "deep")),
    ModelSpec("models.resnet50", cases=[("224×224, batch 2", example("resnet50", 2, 224,
                                                                      seed=4))],
              profiles=("deep",)),
    TrajectorySpec("models.trajectory[resnet_small]", "resnet_small",
                   {"block": "basic", "layers": (1, 1), "widths": (8, 16), "in_channels": 1,
                    "num_classes": 10}),
)
