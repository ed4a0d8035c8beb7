"""The `motflow` command; its version is the engine's, kept once in model_code/__init__.py."""

from model_code import __version__

__all__ = ["__version__"]
