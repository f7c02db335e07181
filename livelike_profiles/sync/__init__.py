"""LiveLike and the database kept in step, in bulk: backfill, refresh, nickname pushes, repairs."""
