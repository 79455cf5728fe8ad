"""HEP decapsulation for the tshark agreement test (Python standard library only).

tshark 4.0 does not decode HEP (Homer Encapsulation Protocol), so for a
capture of HEP traffic it lists no SIP at all. `decapsulate` reads the
capture's UDP and TCP payloads (extracted by tshark, which handles every link
type and IP reassembly), decodes each HEP packet and writes its SIP payload
into a plain pcap as Ethernet / IPv4 or IPv6 / UDP, with the addresses, ports
and time from the HEP header. tshark on that pcap is then the oracle.

The decapsulated frames are always UDP, whatever the HEP header says: one HEP
packet holds one whole message, which is what a datagram is to tshark. The
transport the HEP header names (IP protocol 17, 6 or 132) is kept in
`HepPacket.transport` for the comparison.

HEP formats (as Kamailio's sipcapture module and captagent read and write them):
- HEPv3: "HEP3", total length (u16), then chunks until that length: vendor id
  (u16), type (u16), length (u16, including these 6 bytes), value. All numbers
  big-endian. Vendor id 0 is the generic set: 1 IP family (u8: 2 IPv4, 10
  IPv6), 2 IP protocol (u8), 3/4 IPv4 source/destination, 5/6 IPv6
  source/destination, 7/8 source/destination port (u16), 9 time seconds (u32),
  10 time microseconds (u32), 11 payload type (u8, 1 = SIP), 12 capture id,
  15 payload, 16 compressed payload (zlib or gzip). Other chunks are skipped.
- HEPv1/v2: byte 0 version (1 or 2), byte 1 header length (8 + the address
  bytes), byte 2 family (2 or 10), byte 3 IP protocol, source and destination
  port (u16 big-endian), source and destination address (4 or 16 bytes each).
  HEPv2 then has the time: seconds (u32), microseconds (u32) and capture id
  (u16), in the sender's byte order (little-endian in practice), padded to
  12 bytes. The payload follows. HEPv1 has no time: the frame's time is used.
"""
import dataclasses
import ipaddress
import os
import struct
import subprocess
import zlib

AF_INET, AF_INET6 = 2, 10
TRANSPORTS = {17: "udp", 6: "tcp", 132: "sctp"}
HEP_PAYLOAD_SIP = 1


class NotHep(ValueError):
    """A payload that is not a HEP packet, or a malformed one."""


@dataclasses.dataclass
class HepPacket:
    frame: int          # the frame of the capture that completed the packet
    ts_us: int          # microseconds since the epoch
    src: str
    sport: int
    dst: str
    dport: int
    transport: str      # "udp", "tcp" or "sctp", from the HEP IP protocol
    payload: bytes


# ------------------------------------------------------------------ decoding

def decode_hep(data, frame, frame_ts_us):
    """One HEP packet (all of `data`) -> HepPacket, or None when its payload
    type is not SIP. Raises NotHep when `data` is not a well-formed HEP packet."""
    if data[:4] == b"HEP3":
        return decode_hep3(data, frame, frame_ts_us)
    if data[:1] in (b"\x01", b"\x02"):
        return decode_hep12(data, frame, frame_ts_us)
    raise NotHep("neither HEP3 nor HEPv1/v2")


def decode_hep12(data, frame, frame_ts_us):
    if len(data) < 8:
        raise NotHep("HEPv1/v2 header cut short")
    version, header_len, family, proto, sport, dport = struct.unpack_from("!BBBBHH", data)
    size = {AF_INET: 4, AF_INET6: 16}.get(family)
    if size is None:
        raise NotHep(f"HEPv{version} address family {family}")
    if header_len != 8 + 2 * size:
        raise NotHep(f"HEPv{version} header length {header_len} for family {family}")
    src = ipaddress.ip_address(data[8:8 + size])
    dst = ipaddress.ip_address(data[8 + size:8 + 2 * size])
    at, ts_us = header_len, frame_ts_us
    if version == 2:
        if len(data) < at + 12:
            raise NotHep("HEPv2 time header cut short")
        sec, usec = struct.unpack_from("<II", data, at)
        ts_us = sec * 1_000_000 + usec
        at += 12
    return HepPacket(frame, ts_us, str(src), sport, str(dst), dport,
                     transport_of(proto, frame), bytes(data[at:]))


def decode_hep3(data, frame, frame_ts_us):
    if len(data) < 6:
        raise NotHep("HEP3 header cut short")
    total = struct.unpack_from("!H", data, 4)[0]
    if total != len(data):
        raise NotHep(f"HEP3 total length {total}, packet {len(data)} bytes")
    chunks, at = {}, 6
    while at < total:
        if total - at < 6:
            raise NotHep(f"HEP3 chunk header at offset {at} cut short")
        vendor, kind, length = struct.unpack_from("!HHH", data, at)
        if length < 6 or at + length > total:
            raise NotHep(f"HEP3 chunk {kind:#06x} at offset {at}: length {length}")
        if vendor == 0:
            chunks[kind] = bytes(data[at + 6:at + length])
        at += length

    def number(kind, fmt, default=None):
        if kind not in chunks:
            if default is None:
                raise NotHep(f"HEP3 without chunk {kind:#06x}")
            return default
        if len(chunks[kind]) != struct.calcsize(fmt):
            raise NotHep(f"HEP3 chunk {kind:#06x} of {len(chunks[kind])} bytes")
        return struct.unpack(fmt, chunks[kind])[0]

    if number(11, "!B", HEP_PAYLOAD_SIP) != HEP_PAYLOAD_SIP:
        return None
    family = number(1, "!B", 0)
    if family in (0, AF_INET) and 3 in chunks and 4 in chunks:
        src, dst = chunks[3], chunks[4]
    elif family in (0, AF_INET6) and 5 in chunks and 6 in chunks:
        src, dst = chunks[5], chunks[6]
    else:
        raise NotHep(f"HEP3 without source and destination of family {family}")
    if len(src) not in (4, 16) or len(dst) != len(src):
        raise NotHep("HEP3 address of the wrong size")
    ts_us = frame_ts_us
    if 9 in chunks:
        ts_us = number(9, "!I") * 1_000_000 + number(10, "!I", 0)
    if 15 in chunks:
        payload = chunks[15]
    elif 16 in chunks:
        try:
            payload = zlib.decompress(chunks[16], zlib.MAX_WBITS | 32)  # zlib or gzip header
        except zlib.error as e:
            raise NotHep(f"HEP3 compressed payload: {e}") from None
    else:
        raise NotHep("HEP3 without payload chunk")
    return HepPacket(frame, ts_us, str(ipaddress.ip_address(src)), number(7, "!H", 0),
                     str(ipaddress.ip_address(dst)), number(8, "!H", 0),
                     transport_of(number(2, "!B", 17), frame), payload)


def transport_of(proto, frame):
    if proto not in TRANSPORTS:
        # Not a packet to skip: sipman reports it, and the test cannot say how.
        raise RuntimeError(f"frame {frame}: HEP IP protocol {proto} is none of "
                           f"{sorted(TRANSPORTS)}; teach hep_decap.py what sipman should report")
    return TRANSPORTS[proto]


# ------------------------------------------------------------------ reading the capture

def transport_payloads(path):
    """[(frame, frame time in µs, payload)]: each UDP datagram's payload, and each
    HEP3 packet cut from a TCP stream (bytes in arrival order, retransmitted
    bytes dropped; the packet's frame is the one that completes it)."""
    out = subprocess.run(
        ["tshark", "-r", path, "-T", "fields", "-E", "occurrence=l",
         "-e", "frame.number", "-e", "frame.time_epoch", "-e", "udp.payload",
         "-e", "tcp.payload", "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.seq_raw",
         "-Y", "udp.payload or tcp.payload"],
        check=True, capture_output=True, text=True).stdout
    result, streams = [], {}
    for line in out.splitlines():
        frame, epoch, udp_hex, tcp_hex, stream, sport, seq = line.split("\t")
        frame, ts_us = int(frame), epoch_us(epoch)
        if tcp_hex:
            data, seq = bytes.fromhex(tcp_hex.replace(":", "")), int(seq)
            state = streams.setdefault((stream, sport), {"next": seq, "buffer": b""})
            if seq + len(data) <= state["next"]:
                continue  # a retransmission
            state["buffer"] += data[max(0, state["next"] - seq):]
            state["next"] = seq + len(data)
            while len(state["buffer"]) >= 6:
                if state["buffer"][:4] != b"HEP3":
                    result.append((frame, ts_us, state["buffer"]))  # reported as not HEP
                    state["buffer"] = b""
                    break
                total = struct.unpack_from("!H", state["buffer"], 4)[0]
                if len(state["buffer"]) < total:
                    break
                result.append((frame, ts_us, state["buffer"][:total]))
                state["buffer"] = state["buffer"][total:]
        elif udp_hex:
            result.append((frame, ts_us, bytes.fromhex(udp_hex.replace(":", ""))))
    return result


def epoch_us(epoch_text):
    seconds, _, frac = epoch_text.partition(".")
    return int(seconds) * 1_000_000 + int((frac + "000000")[:6])


# ------------------------------------------------------------------ writing the pcap

def write_pcap(path, packets):
    """Ethernet / IPv4 or IPv6 / UDP, one frame per HepPacket, in the given order."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for p in packets:
            frame = ethernet_udp(p)
            f.write(struct.pack("<IIII", p.ts_us // 1_000_000, p.ts_us % 1_000_000,
                                len(frame), len(frame)))
            f.write(frame)


def ethernet_udp(p):
    if len(p.payload) > 65535 - 48:
        raise RuntimeError(f"frame {p.frame}: HEP payload of {len(p.payload)} bytes "
                           "does not fit a UDP datagram")
    src, dst = ipaddress.ip_address(p.src), ipaddress.ip_address(p.dst)
    udp = struct.pack("!HHHH", p.sport, p.dport, 8 + len(p.payload), 0) + p.payload
    if src.version == 4:
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                             src.packed, dst.packed)
        header = header[:10] + struct.pack("!H", ip_checksum(header)) + header[12:]
        ethertype = 0x0800
    else:
        header = struct.pack("!IHBB16s16s", 6 << 28, len(udp), 17, 64, src.packed, dst.packed)
        ethertype = 0x86DD
    macs = bytes.fromhex("00005e005302") + bytes.fromhex("00005e005301")
    return macs + struct.pack("!H", ethertype) + header + udp


def ip_checksum(header):
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


# ------------------------------------------------------------------ the whole step

def decapsulate(path, workdir):
    """Decapsulates every HEP packet in the capture at `path` into
    WORKDIR/decap.pcap. Returns (pcap path, [HepPacket] in the pcap's frame
    order, [(frame, reason)] for the payloads that were not decapsulated:
    not HEP, malformed, or HEP of another payload type than SIP)."""
    packets, skipped = [], []
    for frame, ts_us, data in transport_payloads(path):
        try:
            packet = decode_hep(data, frame, ts_us)
        except NotHep as e:
            skipped.append((frame, str(e)))
            continue
        if packet is None:
            skipped.append((frame, "HEP payload type is not SIP"))
        else:
            packets.append(packet)
    pcap = os.path.join(workdir, "decap.pcap")
    write_pcap(pcap, packets)
    return pcap, packets, skipped
