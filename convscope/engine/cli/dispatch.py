"""The command line's front door (design §3): parse, claim the outputs, run the
sub-command from the table (engine.cli.commands), turn every failure into one line.

Bad input exits with status 2 and one `error: ...` line on stderr (a traceback only with
--debug); output files are written atomically, so a failed run leaves none behind.
"""
from __future__ import annotations

import argparse
import sys

from ..errors import Cancelled, UserError, first_line
from . import commands
from .common import Parser


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="convscope", description="See what a convolutional network has learned. "
               "With no command (or `gui`), the window opens.")
    sub = p.add_subparsers(dest="command", parser_class=Parser)
    # issue 22: handled by convscope/cli_entry.py before this parser; listed for --help
    p.add_argument("--version", action="version", version=f"convscope {_version()}")
    sub.add_parser("doctor", help="what this installation found: Python, TensorFlow and its "
                   "devices, Qt, OpenCV, Ray, cache folders, memory (for bug reports)")
    for name in commands.NAMES:
        commands.module(name).add_parser(sub)
    from ..help_defaults import state_defaults

    state_defaults(p)  # every --help states each default (issue 17)
    return p


def _version() -> str:
    from ... import __version__

    return __version__


def main(argv=None) -> int:
    from .. import interrupts

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    interrupts.install()  # SIGTERM / SIGHUP end the run as Ctrl-C does
    try:
        args = parser().parse_args(argv)
        if args.command is None:
            raise UserError("no command given (see --help)")
        code = _run(args)
        sys.stdout.flush()  # a closed pipe is found here, not at interpreter exit
        return code
    except UserError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `convscope info ... | head`: the reader has gone; so do we
        interrupts.silence_stdout()
        return 141
    except (Cancelled, KeyboardInterrupt):
        print(f"error: interrupted ({interrupts.signal_name()}); nothing was written",
              file=sys.stderr)
        return interrupts.exit_status()
    except MemoryError:
        if debug:
            raise
        print("error: out of memory; try a smaller image, model input, --size or fewer "
              "--filters", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug, or a failure Keras/TensorFlow did not explain
        if debug:
            raise
        print(f"error: unexpected failure ({type(exc).__name__}: {first_line(exc)}); "
              "run again with --debug for the traceback", file=sys.stderr)
        return 1


def _run(args) -> int:
    """Outputs are claimed (checked) first, before any work; they are written only if the
    whole command succeeds (engine.outputs); the report line is printed after that.
    A command that writes through engine.outputs itself (a folder, a PDF) claims nothing."""
    from .. import outputs

    command = commands.module(args.command)
    with outputs.Outputs(outputs.command_inputs(args)) as out:  # no output overwrites an input
        claim = getattr(command, "claim", None)
        claimed = claim(args, out) if claim is not None else {}
        result = command.run(args, out, claimed)
    # a command's run returns (exit status, the line to print) or its exit status alone
    code, report = result if isinstance(result, tuple) else (result, "")
    if report:
        print(report)
    return code
