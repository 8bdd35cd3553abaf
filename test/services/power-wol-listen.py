# A wake-on-LAN listener for power-wol.test.ts, run inside a lab namespace: UDP 0.0.0.0:PORT
# (a socket bound to the host's own address misses broadcasts), IP_PKTINFO for the header's
# destination. One JSON line per datagram: {"src", "dst", "hex"}; "ready" once bound.
import json, socket, struct, sys

IP_PKTINFO = 8  # Linux <netinet/in.h>; Python 3.11 has no constant
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
s.bind(("0.0.0.0", port))
print("ready", flush=True)
while True:
    data, ancdata, _flags, src = s.recvmsg(2048, socket.CMSG_SPACE(12))
    dst = None
    for level, kind, cdata in ancdata:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
            # struct in_pktinfo { int ipi_ifindex; in_addr ipi_spec_dst; in_addr ipi_addr; }
            dst = socket.inet_ntoa(cdata[8:12])
    print(json.dumps({"src": src[0], "dst": dst, "hex": data.hex()}), flush=True)
