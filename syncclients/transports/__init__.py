"""Transports: the only layer that talks to sockets, subprocesses and channels, and the only
place where foreign exceptions are translated into :mod:`syncclients.errors`."""
