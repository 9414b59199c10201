"""The kernel: rules every domain shares (money and quantities first). Imports nothing of
Meterline's and does no I/O."""
