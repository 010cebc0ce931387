"""The admin page's documents panels (built next)."""

PANELS: tuple = ()
