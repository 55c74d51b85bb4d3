"""Live job updates over Socket.IO: the server at /socket.io, its rooms, and the
fan-out of job events to them (across API processes through Redis when set)."""
