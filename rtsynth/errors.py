"""The one base of every error a user can act on (a bad file, name, setting or bundle).

Each area has its own subclass beside the code that raises it (ConfigError, BundleError,
RenderError, RunError, PrepError, ...); `rtsynth` turns any of them into one line and a
nonzero exit. Each also keeps the built-in type callers already catch (ValueError, OSError...).
"""

from __future__ import annotations


class RtsynthError(Exception):
    """A problem the user can fix; the message says what and where."""
