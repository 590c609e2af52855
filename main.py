"""ConvScope entry point: the window by default, headless sub-commands otherwise.

    python main.py                      # the window, on the demo model
    python main.py info --model demo    # see `python main.py --help`
"""
import sys

CLI_COMMANDS = ("info", "predict", "activations", "filters", "cam", "video", "figure", "batch", "examples")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in CLI_COMMANDS:
        try:
            from engine.cli import main as cli_main
        except KeyboardInterrupt:  # Ctrl-C while the engine's modules load (~0.2 s)
            print("error: interrupted (Ctrl-C); nothing was written", file=sys.stderr)
            return 130
        return cli_main(argv)
    if argv and argv[0] == "gui":
        argv = argv[1:]
    if argv and argv[0] in ("-h", "--help"):
        from engine.cli import main as cli_main

        return cli_main(argv)
    from gui.app import main as gui_main

    return gui_main(argv)


if __name__ == "__main__":
    sys.exit(main())
