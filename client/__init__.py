"""pydocker: a command-line client for the Docker Engine API."""
