"""Fixtures shared by the Entra tests: `responses` for Microsoft's endpoints, a fake Entra."""
from __future__ import annotations

import pytest
import responses

from tests.identity.entra_support import FakeEntra


@pytest.fixture
def mock():
    """Every outbound HTTP call goes through `responses` (Microsoft is never reached)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as requests_mock:
        yield requests_mock


@pytest.fixture
def entra(mock) -> FakeEntra:
    """Entra's metadata and keys, served through `mock`."""
    return FakeEntra(mock)
