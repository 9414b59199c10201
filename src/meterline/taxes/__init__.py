"""Tax rates (and, as they land, their associations and the tax lines of invoices)."""
