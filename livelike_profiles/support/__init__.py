"""Small pieces the others share: after the commit, savepoints, signals sent, the task queue."""
