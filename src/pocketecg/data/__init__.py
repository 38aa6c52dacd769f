"""Readers: every supported file becomes one validated `Record`."""

from pocketecg.data.record import STANDARD_LEADS, Record, RecordError
from pocketecg.data.scan import ReadOptions, read_record, scan

__all__ = ["STANDARD_LEADS", "Record", "RecordError", "ReadOptions", "read_record", "scan"]
