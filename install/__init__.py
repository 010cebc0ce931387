"""Installing, updating and uninstalling the app on a portal."""
