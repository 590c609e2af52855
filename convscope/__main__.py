"""`python -m convscope ...` = the `convscope` command."""
import sys

from .cli_entry import main

sys.exit(main())
