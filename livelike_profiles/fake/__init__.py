"""A fake of LiveLike's profile API, in memory and over real HTTP, for tests and demos.

It answers the endpoints this app and the official JavaScript SDK use as LiveLike does on the
wire, CORS included, with faults on demand. Standard library and PyJWT only: no Django
needed. ``FakeLiveLike`` in a test, the ``livelike_fake`` pytest fixture, or
``python -m livelike_profiles.fake --port 8765`` from a shell: see docs/reference/fake.md.
"""

from .cli import main
from .service import FakeLiveLike
from .state import Call, FakeProfile
from .tokens import DEMO_CLIENT_SECRET
from .wire import BASE_PATH

__all__ = ["BASE_PATH", "DEMO_CLIENT_SECRET", "Call", "FakeLiveLike", "FakeProfile", "main"]
