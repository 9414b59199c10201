"""The customer portal: short-lived links that show one customer its own billing."""
