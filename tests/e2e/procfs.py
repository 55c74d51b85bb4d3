"""What Linux's /proc tells about processes the tests started: their children, whether
they still run, and their TCP connections (on 127.0.0.1, IPv4)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

LOOPBACK_HEX = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it
ESTABLISHED = "01"


def child_pids(pid: int) -> set[int]:
    """Live processes whose parent is `pid`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def is_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass(frozen=True)
class TcpSocket:
    local_port: int
    remote_port: int
    state: str
    unread_bytes: int  # received by the kernel, not yet read by the process
    inode: str


def _port(address: str) -> tuple[str, int]:
    host, port = address.split(":")
    return host, int(port, 16)


def loopback_sockets() -> list[TcpSocket]:
    """Every IPv4 TCP socket between two 127.0.0.1 addresses in this network namespace."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        (local_host, local_port), (remote_host, remote_port) = _port(fields[1]), _port(fields[2])
        if local_host != LOOPBACK_HEX or remote_host != LOOPBACK_HEX:
            continue
        unread = int(fields[4].split(":")[1], 16)
        found.append(TcpSocket(local_port, remote_port, fields[3], unread, fields[9]))
    return found


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target.removeprefix("socket:[").removesuffix("]"))
    return inodes


def connections_to(pid: int, port: int) -> set[int]:
    """The local ports of the connections process `pid` holds open to 127.0.0.1:`port`."""
    mine = socket_inodes(pid)
    return {
        s.local_port
        for s in loopback_sockets()
        if s.inode in mine and s.remote_port == port and s.state == ESTABLISHED
    }


def request_read(server_port: int, client_port: int) -> bool:
    """The server on `server_port` has read everything the client at `client_port` sent
    (the kernel holds none of it unread)."""
    ends = [
        s
        for s in loopback_sockets()
        if s.local_port == server_port and s.remote_port == client_port and s.state == ESTABLISHED
    ]
    return bool(ends) and all(s.unread_bytes == 0 for s in ends)
