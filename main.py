"""`python main.py ...` in a checkout = the installed `convscope` command (convscope/cli_entry.py)."""
import sys

from convscope.cli_entry import main

if __name__ == "__main__":
    sys.exit(main())
