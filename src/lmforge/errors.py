"""User-facing errors.

Every error a user can cause (bad path, bad config, missing extra) is an `LMForgeError` whose
message is one line naming the thing at fault and the fix. The CLI prints it without a stack
trace; anything else is a bug and keeps its traceback.
"""


class LMForgeError(Exception):
    """An error caused by input or environment, with a one-line message that says the fix."""


class ConfigError(LMForgeError):
    """A config file or flag is missing, malformed, or has a wrong key or type."""


class ModelLoadError(LMForgeError):
    """A model path does not exist, has no weights, or has an unsupported architecture."""


class MissingExtraError(LMForgeError, ImportError):
    """An optional dependency group is not installed."""

    def __init__(self, extra: str, module: str) -> None:
        self.extra = extra
        self.module = module
        super().__init__(
            f"this feature needs the '{extra}' extra (module '{module}' is missing): "
            f"pip install 'lmforge[{extra}]'"
        )
