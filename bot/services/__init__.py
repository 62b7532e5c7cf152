"""Services: the rules of the shop, free of aiogram, reached by handlers via workflow_data."""
