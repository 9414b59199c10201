"""Alert settings: thresholds on an entity's value (a wallet's balance), and its state."""
