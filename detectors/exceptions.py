"""Errors raised by detectors, named after the failure."""

__all__ = ["DetectorError", "BadParameter", "NotEnoughPoints"]


class DetectorError(Exception):
    """Base for detector errors."""


class BadParameter(DetectorError, ValueError):
    """A detector setting is outside its valid range."""


class NotEnoughPoints(DetectorError):
    """The series is too short for the requested segmentation."""
