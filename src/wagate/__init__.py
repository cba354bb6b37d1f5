"""wagate: a multi-instance WhatsApp API gateway speaking Evolution API v2's HTTP contract."""

__version__ = "0.1.0"
