"""A Disk folder and a chat for every new deal: exactly one of each, nothing lost."""
