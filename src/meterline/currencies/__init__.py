"""Price units (custom pricing units converted to a fiat currency) and exchange rates."""
