"""One default everywhere: filter patterns are `regularized` in the CLI, the figure, the
API, the window's settings and the README; every sub-command's --help states each default;
the README's `filters` command makes readable patterns."""
import inspect
import os
import shlex

import numpy as np

from convscope.engine.filters import spec as filter_spec
from convscope.engine.cli.dispatch import parser as _parser
from convscope.engine.cli import main as cli
from convscope.engine.help_defaults import shows_default, subparsers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_command(name: str, contains: str) -> list[str]:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        for line in f:
            if line.startswith(f"python main.py {name}") and contains in line:
                return shlex.split(line)[2:]
    raise AssertionError(f"no `python main.py {name} ... {contains}` line in the README")


def option(parser, command, flag):
    sub = dict(subparsers(parser))[command]
    return next(a for a in sub._actions if flag in a.option_strings)


def test_filter_mode_default_is_regularized_everywhere():
    from convscope.engine.figures.spec import FigureSpec
    from convscope.engine.filters.ascent import filter_patterns
    from convscope.gui.settings import DEFAULTS

    assert filter_spec.DEFAULT_MODE == "regularized"
    p = _parser()
    assert option(p, "filters", "--mode").default == "regularized"
    assert option(p, "figure", "--mode").default == "regularized"
    assert FigureSpec().filter_mode == "regularized"
    assert inspect.signature(filter_patterns).parameters["mode"].default == "regularized"
    assert DEFAULTS["filters/mode"] == "regularized"
    assert DEFAULTS["filters/steps"] == filter_spec.DEFAULT_STEPS["regularized"]
    help_text = dict(subparsers(p))["filters"].format_help()
    assert "(default: regularized)" in " ".join(help_text.split())
    assert "classic = the seeds' recipe" in " ".join(help_text.split())


def test_every_help_states_each_default():
    from convscope.gui.app import parse_args  # noqa: F401  (the window's own parser, below)

    p = _parser()
    missing = []
    for name, sub in subparsers(p):
        text = " ".join(sub.format_help().split())
        for a in sub._actions:
            if shows_default(a):
                rendered = (a.help or "") % {"default": a.default}
                if "default" not in rendered.lower() or str(a.default).lower() not in rendered.lower():
                    missing.append((name, a.option_strings[0], a.default))
                assert str(a.default) in text
    assert missing == []
    assert len(list(subparsers(p))) >= 9


def test_readme_filters_command_makes_readable_patterns(tmp_path, capsys):
    """The README's first `filters` command (4 of its filters, for time), as written: the
    patterns' pixel standard deviation is well above the seeds' start noise's (drawn the
    same way: --mode classic --steps 0), which classic's 40 steps do not leave on conv3."""
    argv = readme_command("filters", "--layer conv3")
    assert "--mode" not in argv  # the README relies on the default
    i = argv.index("--filters")
    argv[i + 1] = "0-3"
    out = argv.index("--out")
    argv[out + 1] = str(tmp_path / "patterns.png")

    def stds(extra):
        npy = tmp_path / "p.npy"
        code = cli(argv + ["--npy", str(npy)] + extra)
        assert code == 0, capsys.readouterr().err
        p = np.load(npy).astype(np.float64)
        return p.reshape(len(p), -1, 3).std(axis=1).mean(axis=1)

    start = stds(["--mode", "classic", "--steps", "0"])
    patterns = stds([])
    assert (tmp_path / "patterns.png").exists()
    assert patterns.mean() > 2.0 * start.mean(), (patterns, start)
