"""One LiveLike profile per Django user: provisioned exactly once, its token encrypted at rest."""

__version__ = "0.1.0"
