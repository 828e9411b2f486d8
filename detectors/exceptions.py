"""Errors raised by detectors, named after the failure."""

__all__ = ["DetectorError", "BadParameter", "NotEnoughPoints", "BadPeriod", "YearOutsideCalendar"]


class DetectorError(Exception):
    """Base for detector errors."""


class BadParameter(DetectorError, ValueError):
    """A detector setting is outside its valid range."""


class NotEnoughPoints(DetectorError):
    """The series is too short for the requested segmentation."""


class BadPeriod(DetectorError, ValueError):
    """A period is not "YYYY-MM" with a month 01-12."""


class YearOutsideCalendar(DetectorError, ValueError):
    """The festival calendar has no date for the year: the season is never guessed."""
