"""Google Drive client for the mirror: construction, credentials, error kinds, upload primitives.

Platform code: knows Google, never Bitrix24 features. Tests point it at `fakedrive` through
`build_drive(credentials, root_url=fake.url)` — the same code path as production.
"""
