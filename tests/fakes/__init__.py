"""Local fakes of external services, on real sockets, speaking their wire formats."""
