"""Every sub-command's --help states each option's default.

`state_defaults(parser)` appends "(default: X)" to the help of every option, in the
parser and all its sub-commands, whose default is a value (not None, not an unset flag)
and whose help does not already name that value. An option whose default is None is
absent unless given (its help says what happens then).
"""
from __future__ import annotations

import argparse


def shows_default(action) -> bool:
    """Whether `action`'s default is a value worth stating."""
    d = action.default
    if not action.option_strings or d is argparse.SUPPRESS or d is None:
        return False
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction,
                           argparse._HelpAction, argparse._VersionAction)):
        return False
    return not (isinstance(d, (list, tuple)) and not d)


def names_value(text: str, value) -> bool:
    low = (text or "").lower()
    return "default" in low and str(value).lower() in low


def subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def state_defaults(parser) -> None:
    for action in parser._actions:
        if shows_default(action) and not names_value(action.help, action.default):
            action.help = (action.help + " " if action.help else "") + "(default: %(default)s)"
    for _name, sub in subparsers(parser):
        state_defaults(sub)
