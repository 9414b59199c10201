from tests.invoicing.service_db import service_db  # noqa: F401
