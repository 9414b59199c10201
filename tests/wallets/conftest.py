from tests.billing.service_db import service_db  # noqa: F401
