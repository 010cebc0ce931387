"""amoCRM / Kommo API v4 adapter: OAuth, the REST client, webhook and widget-token parsing."""
