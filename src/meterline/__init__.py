"""Meterline: usage metering, entitlements, licensing and billing."""

__version__ = "0.1.0"
