"""ConvScope entry point: the window by default, headless sub-commands otherwise.

    python main.py                      # the window, on the demo model
    python main.py info --model demo    # see `python main.py --help`
"""
import sys


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("--version", "-V"):
        from convscope import __version__

        print(f"convscope {__version__}")
        return 0
    if argv and argv[0] == "doctor":  # no model, no window: what this installation found
        from convscope.doctor import main as doctor_main

        return doctor_main(argv)
    try:  # light: the sub-command table and a lazy entry point (no TensorFlow yet)
        from convscope.engine.cli import commands, main as cli_main
    except KeyboardInterrupt:  # Ctrl-C while the engine's first modules load (~0.2 s)
        print("error: interrupted (Ctrl-C); nothing was written", file=sys.stderr)
        return 130
    if argv and argv[0] in commands.NAMES:
        return cli_main(argv)
    if argv and argv[0] == "gui":
        argv = argv[1:]
    if argv and argv[0] in ("-h", "--help"):
        return cli_main(argv)
    from convscope.gui.app import main as gui_main

    return gui_main(argv)


if __name__ == "__main__":
    sys.exit(main())
