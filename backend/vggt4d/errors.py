"""Typed errors that carry a sentence a person can act on.

The server sends ``code`` and ``str(error)`` to the add-on; the command line prints the
message. Everything the user can cause (bad input, missing weights, out of memory, cancel)
is one of these; anything else is a bug and keeps its traceback.
"""

from vggt4d.io import bundle_format


class VGGT4DError(Exception):
    """Base class: ``code`` is a stable machine-readable name, the message is for people."""

    code = "error"


class InputError(VGGT4DError):
    """Footage, masks or options that cannot be used (missing file, unreadable video, ...)."""

    code = "bad_input"


class WeightsError(VGGT4DError):
    """A checkpoint that is missing, unreachable offline, corrupt or of the wrong model."""

    code = "weights"


class OutOfMemoryError(VGGT4DError):
    """The device ran out of memory; the message suggests fewer frames or a larger stride."""

    code = "out_of_memory"


class BundleError(VGGT4DError, bundle_format.BundleError):
    """A result bundle that is incomplete, malformed or hostile.

    Also a ``bundle_format.BundleError``, the class the format module (shared with the add-on)
    raises; ``vggt4d.io.bundle`` re-raises those as this class with the same sentence.
    """

    code = "bad_bundle"


class CancelledError(VGGT4DError):
    """The user cancelled the job; raised at the next chunk or stage boundary."""

    code = "cancelled"


class FarmError(VGGT4DError):
    """Ray is not installed, or the cluster of a batch cannot be started or reached."""

    code = "farm"


class ReconstructionError(VGGT4DError):
    """The footage ran, but its result cannot be trusted (e.g. chunks of a long shot that no
    similarity aligns); the message says what to change."""

    code = "reconstruction_failed"
