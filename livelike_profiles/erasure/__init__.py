"""A deleted user's profile erased at LiveLike: the outbox and its work."""
