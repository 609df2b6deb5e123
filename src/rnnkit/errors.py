"""The exceptions rnnkit raises for problems a user can fix.

Every message names what was received and what was expected.

>>> from rnnkit.errors import RnnkitError, ShapeError
>>> issubclass(ShapeError, RnnkitError) and issubclass(ShapeError, ValueError)
True
"""


class RnnkitError(Exception):
    """Base class of every error rnnkit raises on purpose."""


class ShapeError(RnnkitError, ValueError):
    """An array had the wrong rank or size."""


class ConfigError(RnnkitError, ValueError):
    """An argument, name or saved configuration is not valid."""


class DataError(RnnkitError, ValueError):
    """A data or model file is missing, corrupt or truncated."""


class NetworkError(RnnkitError, OSError):
    """A download failed (no network, bad checksum, truncated body)."""


class NonFiniteError(RnnkitError, FloatingPointError):
    """A loss or gradient became NaN or infinite during training."""
