"""Talking to LiveLike: the HTTP client, reading its answers and their bodies."""
