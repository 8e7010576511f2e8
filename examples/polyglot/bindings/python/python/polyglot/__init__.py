"""Python bindings for the polyglot engine."""

from importlib.metadata import PackageNotFoundError, version as _dist_version


def version() -> str:
    """Return the installed distribution's version (set at build time from Cargo.toml)."""
    try:
        return _dist_version("polyglot")
    except PackageNotFoundError:  # running from a source checkout
        return "unknown"


__all__ = ["version"]
