// The Debian packages of the rootfs (issue 15 item 1: Debian minbase plus only what Tandem runs),
// each with the reason it is there. The list is part of the rootfs cache key (image/steps/rootfs.ts).

export const COMMON_PACKAGES: readonly string[] = [
  'nodejs', // the daemon (Node 18 in bookworm)
  'busybox-static', // PID 1's shell and the initramfs (one static binary serves both)
  'kmod', // modprobe/depmod: the init loads drivers by modalias
  'iproute2', // `ip`: addresses, links, routes (firmware/net, tandem network up)
  'iputils-ping', // the balancer's icmp check runs `ping`
  'nftables', // `nft`: the firewall and the balancer's redirect tables
  'conntrackd', // pair sync of connection state
  'conntrack', // conntrack -L/-F beside conntrackd
  'ipmitool', // power: IPMI driver
  'openssh-client', // power: the ssh driver (sleep over SSH)
  'openssh-server', // admin access: key-only sshd with host keys kept in /cfg/ssh
  'hdparm', // power: the local disk-standby method
  'util-linux', // setpriv (the daemon's capability bounding set), blkid, switch_root
  'e2fsprogs', // e2fsck -p of /cfg before it is mounted
  'ca-certificates', // telemetry and webhooks over TLS
];
