"""Credit notes: amounts taken off a finalized invoice's remaining amount."""
