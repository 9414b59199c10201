"""Groups of prices or of features, named by a lookup key."""
