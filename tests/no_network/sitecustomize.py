"""Loaded at interpreter start by tests that put this folder on PYTHONPATH: the network is
unreachable (every name lookup or connection to a host other than this machine fails at once, as
on a machine with no route out), and every attempt is written to the file NO_NETWORK_LOG names."""

import os
import socket
import time

_LOG = os.environ.get("NO_NETWORK_LOG")
_LOCAL = ("127.0.0.1", "localhost", "::1")
_getaddrinfo = socket.getaddrinfo
_connect = socket.socket.connect


def _record(what: str) -> None:
    if _LOG:
        with open(_LOG, "a") as f:
            f.write(f"{time.time():.3f} {what}\n")


def getaddrinfo(host, *args, **kwargs):
    if host is not None and host not in _LOCAL:
        _record(f"getaddrinfo {host}")
        raise socket.gaierror(socket.EAI_NONAME, "network unreachable (tests/no_network)")
    return _getaddrinfo(host, *args, **kwargs)


def connect(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in _LOCAL:
        _record(f"connect {address}")
        raise OSError(101, "Network is unreachable (tests/no_network)")
    return _connect(self, address)


socket.getaddrinfo = getaddrinfo
socket.socket.connect = connect
