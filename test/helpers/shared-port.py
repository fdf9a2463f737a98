#!/usr/bin/env python3
"""Client sockets on one local port: root's to each port of argv[2:], nobody's to argv[1].

The kernel allows it (SO_REUSEADDR, different destinations). Prints "<port> ok" once all
are connected, then holds them for 30 s.
"""
import socket
import subprocess
import sys
import time

agent, others = int(sys.argv[1]), [int(p) for p in sys.argv[2:]]
probe = socket.socket()
probe.bind(('127.0.0.1', 0))
port = probe.getsockname()[1]
probe.close()

def bound():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', port))
    return s

roots = []
for other in others:
    s = bound()
    s.connect(('127.0.0.1', other))
    roots.append(s)
nobody = subprocess.Popen(
    ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'python3', '-c',
     'import socket, time\n'
     's = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n'
     's.bind(("127.0.0.1", %d)); s.connect(("127.0.0.1", %d))\n'
     'print("ok", flush=True); time.sleep(30)\n' % (port, agent)],
    stdout=subprocess.PIPE)
print(port, nobody.stdout.readline().decode().strip(), flush=True)
time.sleep(30)
nobody.kill()
