"""phrases package."""
