"""Token-level streaming control: hooks that see each token before it is emitted.

    from openmini.hooks import HOLD, HookToken, replace, stop

    def first_sentence(tok: HookToken):
        if not tok.reasoning and tok.held.endswith((".", "!", "?")) and tok.text[:1].isspace():
            return stop(tok.held)          # emit the sentence, end the choice
        return HOLD if tok.text else None  # keep text back until the sentence is known
"""

from openmini.hooks.base import (
    HOLD,
    PASS,
    Action,
    HookError,
    HookToken,
    TokenHook,
    release,
    replace,
    stop,
)

__all__ = ["HOLD", "PASS", "Action", "HookError", "HookToken", "TokenHook", "release", "replace",
           "stop"]
