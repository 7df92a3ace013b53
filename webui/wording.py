"""Service messages name both doors' ways out ("--override on the command line, the override box on the page");
on a page only the page's way is shown, so no web message asks for a command-line option."""
from __future__ import annotations

import re

_CLI_HINTS = (
    (re.compile(r'\s*\(--override "reason" on the command line, the override box on the strategy page\)'),
     " (the override box on the strategy page)"),
    (re.compile(r"\(`--allow-treatment KEY`, or ('Allow even if it failed a guardrail' on the budget page)\)"),
     r"(tick \1)"),
    (re.compile(r"\(allow it with --allow-treatment \S+, or (tick it under 'Allow even if it failed a\s+guardrail' "
                r"on the budget page)\)"), r"(\1)"),
)


def for_the_page(message: str) -> str:
    """The message with command-line hints replaced by the page's own control."""
    for pattern, replacement in _CLI_HINTS:
        message = pattern.sub(replacement, message)
    return message
