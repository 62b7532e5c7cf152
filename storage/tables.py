"""Imports every model module so Base.metadata knows all tables (for Alembic and tests).

A feature that adds a module under ``storage/models/`` lists it here.
"""

from storage.models import (
    agents,  # noqa: F401
    audit,  # noqa: F401
    core,  # noqa: F401
    inbox,  # noqa: F401
    orders,  # noqa: F401
    products,  # noqa: F401
    shifts,  # noqa: F401
    web,  # noqa: F401
)
