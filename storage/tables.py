"""Imports every model module so Base.metadata knows all tables (for Alembic and tests).

A feature that adds a models module lists it here.
"""

from storage import models  # noqa: F401
