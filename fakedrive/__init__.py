"""A local fake of Google Drive v3 reached over real HTTP by the stock google-api-python-client.

Start it with `FakeDrive().start()` (tests) or `python -m fakedrive --port N` (demos), and point
the client's discovery document `rootUrl` at `FakeDrive.url`.
"""

from fakedrive.server import FakeDrive, app_env

__all__ = ["FakeDrive", "app_env"]
