// The Internet checksum (RFC 1071), shared by the CARP codec and the ARP/NA frame builder.

/**
 * The ones' complement of the ones' complement sum of 16-bit big-endian words, an odd last
 * byte padded with zero. Over a message whose checksum field is filled in correctly it is 0.
 */
export function internetChecksum(bytes: Uint8Array): number {
  let sum = 0;
  const even = bytes.length & ~1;
  for (let i = 0; i < even; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (even !== bytes.length) sum += bytes[even]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
