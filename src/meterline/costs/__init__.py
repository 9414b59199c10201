"""Cost sheets: the vendor's own costs, priced by prices whose entity is the cost sheet."""
