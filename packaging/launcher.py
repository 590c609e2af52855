"""The bundle's entry script (PyInstaller): the installed `convscope` command."""
import sys

from convscope.cli_entry import main

if __name__ == "__main__":
    sys.exit(main())
