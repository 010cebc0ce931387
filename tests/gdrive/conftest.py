"""Fixtures: a FakeDrive per test, reached by the real googleapiclient through build_drive."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connector.gdrive.credentials import user_credentials
from connector.gdrive.mirror import DriveStore
from connector.gdrive.service import build_drive
from fakedrive import FakeDrive
from tests.gdrive.helpers import REFRESH_TOKEN, SA_EMAIL


@pytest.fixture
def fake() -> Iterator[FakeDrive]:
    drive = FakeDrive().start()
    yield drive
    drive.stop()


@pytest.fixture
def sleeps() -> list[float]:
    """Backoff sleeps requested by the client (recorded instead of slept)."""
    return []


@pytest.fixture
def service(fake: FakeDrive) -> Any:
    creds = user_credentials(REFRESH_TOKEN, "client-id", "client-secret",
                             token_uri=fake.token_uri)
    return build_drive(creds, root_url=fake.url)


@pytest.fixture
def store(service: Any, sleeps: list[float]) -> DriveStore:
    """The production retries, with their sleeps recorded: every retry is visible."""
    return DriveStore(service, sleep=sleeps.append)


@pytest.fixture(scope="session")
def sa_info() -> dict[str, str]:
    """A service-account key made up on the spot (the fake does not check signatures)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "crm-connector-test",
            "private_key_id": "k1", "private_key": pem, "client_email": SA_EMAIL,
            "client_id": "1234567890", "token_uri": "https://oauth2.googleapis.com/token"}

