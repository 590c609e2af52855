"""The command line (design §3): `convscope SUB-COMMAND ...`, headless.

Entry point: `main(argv) -> exit status` (what `convscope` and `python main.py SUB` run).

Modules: `dispatch` (parse, claim outputs, run, one `error:` line per failure), `commands`
(the table: sub-command name -> module; add a sub-command there), `common` (what every
sub-command shares: model options, checks before TensorFlow loads, Ctrl-C, JSON), and one
module per sub-command (`info`, `predict`, `activations`, `filters`, `cam`, `video`,
`figure`, `batch`, `examples`; `attribution_options` holds `cam`'s attribution flags).

Importing this package imports no TensorFlow: the window and the checks read it first.
"""


def main(argv=None) -> int:
    try:
        from .dispatch import main as run
    except KeyboardInterrupt:  # Ctrl-C while the command line's modules load
        import sys

        print("error: interrupted (Ctrl-C); nothing was written", file=sys.stderr)
        return 130
    return run(argv)


__all__ = ["main"]
