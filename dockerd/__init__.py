"""pydockerd: the Docker Engine API over a unix socket, on top of pycontainerd."""
