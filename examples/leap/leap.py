def is_leap(year: int) -> bool:
    """Return True when `year` is a leap year in the Gregorian calendar."""
    raise NotImplementedError
