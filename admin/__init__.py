"""The app's pages for portal admins (opened from the portal's app menu): settings forms
rendered from each capability's schema, its panels, and the core's operations page."""
