# A lab host that sleeps and wakes like a real one, for the power tests (run in its lab
# namespace): "awake" means its stand-in server (argv after --) runs. SIGUSR1 (sent by its
# sshd forced command, as `systemctl suspend` would) puts it to sleep: the server stops. While
# asleep, a magic packet on UDP 0.0.0.0:PORT for its MAC (and SecureOn password, if set) wakes
# it, as a NIC with wake-on-LAN armed does; anything else is ignored. One JSON line per event.
# Usage: power-sleeper.py MAC PASSWORD_HEX|- PORT -- SERVER ARGV...
import ctypes, json, os, signal, socket, subprocess, sys

mac = bytes.fromhex(sys.argv[1].replace(":", "").replace("-", ""))
password = b"" if sys.argv[2] == "-" else bytes.fromhex(sys.argv[2])
port = int(sys.argv[3])
server_argv = sys.argv[sys.argv.index("--") + 1:]
magic = b"\xff" * 6 + mac * 16 + password
libc = ctypes.CDLL("libc.so.6", use_errno=True)
server = None

def say(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)

def die_with_parent():
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: the server never outlives the host

def wake():
    global server
    server = subprocess.Popen(server_argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)

def sleep(_signum=None, _frame=None):
    global server
    if server is not None:
        server.terminate()
        server.wait()
        server = None
        say("asleep")

def stop(_signum, _frame):
    sleep()
    sys.exit(0)

signal.signal(signal.SIGUSR1, sleep)
signal.signal(signal.SIGTERM, stop)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", port))  # bound to the host's own address it would miss broadcasts
wake()
say("ready", pid=os.getpid())
while True:
    data, src = s.recvfrom(2048)
    if server is not None:
        say("ignored", reason="awake", bytes=len(data))
    elif data != magic:
        say("ignored", reason="not our magic packet", bytes=len(data))
    else:
        wake()
        say("woke", src=src[0], bytes=len(data))
