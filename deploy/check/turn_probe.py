"""A small STUN/TURN client (RFC 5389 / 5766) to probe a coturn server the way a browser
does with the credentials classchat hands out (deploy/check/deploy_check.py uses it).

classchat mints TURN REST credentials (docs/MEETINGS.md, "ICE servers"):
    username   = "<unix time of expiry>:<userId>"
    credential = base64(HMAC-SHA1(secret, username))
`rest_credentials` makes the same pair; `allocate` asks for a UDP relay with them (the
first request draws the 401 with REALM and NONCE, the second carries MESSAGE-INTEGRITY);
`create_permission` asks to relay to a peer address (refused with 403 for denied peers).
"""

import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import socket
import struct
import time

MAGIC = 0x2112A442

BINDING = 0x0001
ALLOCATE = 0x0003
CREATE_PERMISSION = 0x0008

USERNAME = 0x0006
MESSAGE_INTEGRITY = 0x0008
ERROR_CODE = 0x0009
XOR_PEER_ADDRESS = 0x0012
REALM = 0x0014
NONCE = 0x0015
XOR_RELAYED_ADDRESS = 0x0016
REQUESTED_TRANSPORT = 0x0019
XOR_MAPPED_ADDRESS = 0x0020
FINGERPRINT = 0x8028


def rest_credentials(secret, user_id, ttl=86400, now=None):
    """The (username, credential) classchat would hand to `user_id`."""
    expiry = int(now if now is not None else time.time()) + ttl
    username = f"{expiry}:{user_id}"
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(mac).decode()


def _attr(kind, value):
    pad = (4 - len(value) % 4) % 4
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * pad


def _xor_address(addr, port, txid):
    ip = ipaddress.ip_address(addr)
    xport = port ^ (MAGIC >> 16)
    if ip.version == 4:
        x = int(ip) ^ MAGIC
        return struct.pack("!BBH", 0, 1, xport) + struct.pack("!I", x)
    key = struct.pack("!I", MAGIC) + txid
    raw = bytes(a ^ b for a, b in zip(ip.packed, key))
    return struct.pack("!BBH", 0, 2, xport) + raw


def _decode_xor_address(value, txid):
    family, xport = value[1], struct.unpack("!H", value[2:4])[0]
    port = xport ^ (MAGIC >> 16)
    if family == 1:
        return str(ipaddress.IPv4Address(struct.unpack("!I", value[4:8])[0] ^ MAGIC)), port
    key = struct.pack("!I", MAGIC) + txid
    return str(ipaddress.IPv6Address(bytes(a ^ b for a, b in zip(value[4:20], key)))), port


def encode(method, attrs, key=None, txid=None, fingerprint=True):
    """A request with `attrs` ([(type, bytes)]), signed with the long-term `key` if given."""
    txid = txid or os.urandom(12)
    body = b"".join(_attr(k, v) for k, v in attrs)

    def header(length):
        return struct.pack("!HHI", method, length, MAGIC) + txid

    if key is not None:
        # MESSAGE-INTEGRITY covers the header (its length counting the attribute) and body.
        mac = hmac.new(key, header(len(body) + 24) + body, hashlib.sha1).digest()
        body += _attr(MESSAGE_INTEGRITY, mac)
    if fingerprint:
        crc = binascii.crc32(header(len(body) + 8) + body) ^ 0x5354554E
        body += _attr(FINGERPRINT, struct.pack("!I", crc & 0xFFFFFFFF))
    return header(len(body)) + body, txid


def decode(data):
    """(message type, transaction id, {attribute type: value})."""
    kind, length, magic = struct.unpack("!HHI", data[:8])
    if magic != MAGIC:
        raise ValueError("not a STUN message")
    txid, attrs, i = data[8:20], {}, 20
    while i < 20 + length:
        t, n = struct.unpack("!HH", data[i:i + 4])
        attrs.setdefault(t, data[i + 4:i + 4 + n])
        i += 4 + n + (4 - n % 4) % 4
    return kind, txid, attrs


def error_code(attrs):
    v = attrs.get(ERROR_CODE)
    return None if v is None else (v[2] & 7) * 100 + v[3]


class Client:
    """One UDP (or TCP) 5-tuple to the server, as one browser ICE candidate would use."""

    def __init__(self, host, port, tcp=False, timeout=3.0):
        self.tcp = tcp
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.realm = self.nonce = self.key = self.username = None

    def close(self):
        self.sock.close()

    def _recv(self):
        if not self.tcp:
            return self.sock.recv(4096)
        head = b""
        while len(head) < 20:
            head += self.sock.recv(20 - len(head))
        rest, need = b"", struct.unpack("!H", head[2:4])[0]
        while len(rest) < need:
            rest += self.sock.recv(need - len(rest))
        return head + rest

    def request(self, method, attrs, signed=True, txid=None):
        """(answer type, its attributes); XOR-*-ADDRESS values are decoded to (ip, port)."""
        msg, txid = encode(method, attrs, self.key if signed else None, txid)
        self.sock.send(msg)
        for _ in range(5):
            kind, rtxid, rattrs = decode(self._recv())
            if rtxid == txid:
                for a in (XOR_MAPPED_ADDRESS, XOR_RELAYED_ADDRESS, XOR_PEER_ADDRESS):
                    if a in rattrs:
                        rattrs[a] = _decode_xor_address(rattrs[a], txid)
                return kind, rattrs
        raise TimeoutError("no answer to the request")

    def binding(self):
        """The client's address as the server sees it (a STUN Binding request)."""
        kind, attrs = self.request(BINDING, [], signed=False)
        if kind != 0x0101:
            raise RuntimeError(f"Binding answered {kind:#06x} ({error_code(attrs)})")
        return attrs[XOR_MAPPED_ADDRESS]

    def allocate(self, username, password):
        """Asks for a UDP relay. Returns (True, relayed address) or (False, error code)."""
        transport = [(REQUESTED_TRANSPORT, bytes([17, 0, 0, 0]))]
        kind, attrs = self.request(ALLOCATE, transport, signed=False)
        if kind == 0x0103:
            return True, None  # the server asked for no credentials at all
        if error_code(attrs) != 401 or REALM not in attrs or NONCE not in attrs:
            return False, error_code(attrs)
        self.realm, self.nonce, self.username = attrs[REALM], attrs[NONCE], username.encode()
        self.key = hashlib.md5(self.username + b":" + self.realm + b":" + password.encode()).digest()
        kind, attrs = self.request(ALLOCATE, self._auth() + transport)
        if kind != 0x0103:
            return False, error_code(attrs)
        return True, attrs[XOR_RELAYED_ADDRESS]

    def create_permission(self, peer_ip):
        """Asks to relay to `peer_ip` on this allocation. Returns None or the error code."""
        txid = os.urandom(12)
        peer = (XOR_PEER_ADDRESS, _xor_address(peer_ip, 0, txid))
        kind, attrs = self.request(CREATE_PERMISSION, self._auth() + [peer], txid=txid)
        return None if kind == 0x0108 else error_code(attrs)

    def _auth(self):
        return [(USERNAME, self.username), (REALM, self.realm), (NONCE, self.nonce)]
