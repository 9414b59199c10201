"""Invoices: lines, numbering, lifecycle and payment."""
