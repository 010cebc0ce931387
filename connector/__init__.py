"""crm-connector core: knows the platform (Bitrix24, Redis, RQ), never a feature."""
