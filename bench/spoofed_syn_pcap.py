#!/usr/bin/env python3
"""Writes N copies of a real pcap SYN flood, back to back in capture time, as one spoofed-source flood.

Usage: spoofed_syn_pcap.py IN.pcap OUT.pcap N

Each copy is shifted by the input's duration (so the flood runs N times as long at the same rate), and
every SYN gets its own spoofed IPv4 source (100.64.0.0/10 upwards, distinct across copies), as a
spoofing flooder sends them; the victim's RST/ACK answer to a SYN goes back to that SYN's spoofed
address (matched on the port pair). IPv4 and TCP checksums are recomputed when the packet was captured
whole. Output: classic pcap, the input's byte order, link type and timestamp resolution, record for record.
"""
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main():
    src_path, out_path, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
    raw = open(src_path, "rb").read()
    magic = raw[:4]
    end = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",
           b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">"}[magic]
    nanos = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    unit = 10**9 if nanos else 10**6
    linktype = struct.unpack(end + "I", raw[20:24])[0] & 0x0FFFFFFF
    assert linktype == 1, "Ethernet captures only"
    recs = []
    off = 24
    while off + 16 <= len(raw):
        s, frac, incl, orig = struct.unpack(end + "IIII", raw[off:off + 16])
        recs.append((s * unit + frac, bytearray(raw[off + 16:off + 16 + incl]), orig))
        off += 16 + incl
    t0, t1 = recs[0][0], recs[-1][0]
    shift = t1 - t0 + unit // 1000  # the copy starts 1 ms after the previous one ends
    attacker = victim = None
    # The flood's sender: the address sending most SYNs.
    count = {}
    for _, p, _ in recs:
        if p[12:14] == b"\x08\x00" and p[23] == 6 and p[14 + (p[14] & 15) * 4 + 13] & 0x12 == 0x02:
            count[(bytes(p[26:30]), bytes(p[30:34]))] = count.get((bytes(p[26:30]), bytes(p[30:34])), 0) + 1
    attacker, victim = max(count, key=count.get)
    out = open(out_path, "wb")
    out.write(raw[:24])
    n = 0
    for k in range(copies):
        spoofed = {}
        for ts, p, orig in recs:
            p = bytearray(p)
            if p[12:14] == b"\x08\x00" and p[23] == 6:
                ihl = (p[14] & 15) * 4
                l4 = 14 + ihl
                ports = bytes(p[l4:l4 + 4])
                if bytes(p[26:30]) == attacker and bytes(p[30:34]) == victim:
                    a = 0x64400000 + n  # 100.64.0.0 + n: one address per SYN
                    n += 1
                    spoofed[ports] = struct.pack("!I", a)
                    p[26:30] = spoofed[ports]
                elif bytes(p[26:30]) == victim and bytes(p[30:34]) == attacker:
                    back = ports[2:4] + ports[0:2]
                    if back in spoofed:
                        p[30:34] = spoofed[back]
                total = struct.unpack("!H", p[16:18])[0]
                p[24:26] = b"\0\0"
                p[24:26] = struct.pack("!H", csum(bytes(p[14:14 + ihl])))
                if orig == len(p) and 14 + total <= len(p):
                    seg = p[l4:14 + total]
                    seg[16:18] = b"\0\0"
                    pseudo = bytes(p[26:34]) + struct.pack("!BBH", 0, 6, len(seg))
                    p[l4 + 16:l4 + 18] = struct.pack("!H", csum(pseudo + bytes(seg)))
            t = ts + k * shift
            out.write(struct.pack(end + "IIII", t // unit, t % unit, len(p), orig))
            out.write(p)
    out.close()
    print(f"{out_path}: {copies} copies, {len(recs) * copies} packets, {n} spoofed senders", file=sys.stderr)


if __name__ == "__main__":
    main()
