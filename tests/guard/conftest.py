"""Guard fixtures: one Guard on the shipped classifier, loaded once per session (~2 s)."""

import pytest

pytest.importorskip("prismguard")


@pytest.fixture(scope="session")
def guard():
    from lmforge.guard.guard import Guard

    return Guard()
