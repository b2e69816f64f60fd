"""Local HTTP fakes of the external APIs (real sockets, each API's wire format), so the official
SDKs run unchanged against them in tests."""
