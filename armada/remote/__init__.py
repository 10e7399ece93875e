"""Talking to a running service over its API, for the commands that do (armada/cli/): the live
stream in a terminal, and a run's export and import."""
