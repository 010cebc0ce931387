"""The Bitrix24 platform: portal store, OAuth, REST transport, limits, form parsing."""
