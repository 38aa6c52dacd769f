"""pocketecg: a small, fast, honest 12-lead ECG classifier."""

__version__ = "0.1.0"
