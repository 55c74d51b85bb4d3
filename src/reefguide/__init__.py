"""ReefGuide API: accounts, spatial data and a job platform for reef analysis."""

__version__ = "0.1.0"
