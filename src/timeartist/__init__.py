"""timeartist: time series and images in one shared discrete code space."""

__version__ = "0.1.0"
