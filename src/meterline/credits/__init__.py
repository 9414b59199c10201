"""Credit grants: credits a plan or a subscription gives the customer's wallet, once or at
every period, and the record of each application."""
