"""A libp2p peer built on py-libp2p, which this project did not write: the interop tests drive it.

  p2p_peer.py dial ADDR KEY_TYPE MUXER [CLUSTER]   dials ADDR, then runs JSON commands from stdin
  p2p_peer.py listen KEY_TYPE MUXER [CLUSTER]      listens on 127.0.0.1, prints its address, serves
                                                   /storesync/echo/1.0.0 until stdin closes

Both answer /vac/waku/metadata/1.0.0 with CLUSTER (default 0) and no shards. Commands, one JSON
object per line, each answered by one JSON line:
  {"op": "request", "protocol": P, "hex": H}  one stream: H varint-prefixed, then the
                                              varint-prefixed answer -> {"hex": ...}
  {"op": "raw", "protocol": P, "hex": H}      one stream: H as is, everything until EOF
  {"op": "requests", "protocol": P, "hex": H, "count": N}   N request streams in a row
"""

import json
import sys

import multiaddr
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair as ed25519_pair
from libp2p.crypto.secp256k1 import create_new_key_pair as secp256k1_pair
from libp2p.crypto.x25519 import create_new_key_pair as x25519_pair
from libp2p.custom_types import TProtocol
from libp2p.network.stream.exceptions import StreamEOF
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_ID
from libp2p.security.noise.transport import Transport as NoiseTransport

METADATA = TProtocol("/vac/waku/metadata/1.0.0")
ECHO = TProtocol("/storesync/echo/1.0.0")


def uvarint(value):
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


async def read_all(stream):
    data = b""
    while True:
        try:
            chunk = await stream.read(65536)
        except StreamEOF:
            return data
        if not chunk:
            return data
        data += chunk


def strip_prefix(data):
    value, shift, index = 0, 0, 0
    while True:
        byte = data[index]
        index += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            break
    return data[index:index + value]


def make_host(key_type, muxer):
    pair = ed25519_pair() if key_type == "ed25519" else secp256k1_pair()
    noise = NoiseTransport(pair, noise_privkey=x25519_pair().private_key)
    return new_host(key_pair=pair, sec_opt={NOISE_ID: noise}, muxer_preference=muxer.upper())


def serve_metadata(host, cluster):
    async def answer(stream):
        try:
            await stream.read(1024)
            body = b"\x08" + uvarint(cluster)
            await stream.write(uvarint(len(body)) + body)
        finally:
            await stream.close()

    host.set_stream_handler(METADATA, answer)


async def run_command(host, peer, command):
    protocol = TProtocol(command["protocol"])
    payload = bytes.fromhex(command["hex"])
    if command["op"] == "requests":
        answers = []
        for _ in range(command["count"]):
            answers.append(await one_request(host, peer, protocol, payload))
        return {"answers": answers}
    stream = await host.new_stream(peer, [protocol])
    if command["op"] == "raw":
        await stream.write(payload)
        await stream.close_write() if hasattr(stream, "close_write") else None
        return {"hex": (await read_all(stream)).hex()}
    return {"hex": await one_request(host, peer, protocol, payload, stream)}


async def one_request(host, peer, protocol, payload, stream=None):
    if stream is None:
        stream = await host.new_stream(peer, [protocol])
    await stream.write(uvarint(len(payload)) + payload)
    data = await read_all(stream)
    await stream.close()
    return strip_prefix(data).hex() if data else ""


async def dial(address, key_type, muxer, cluster):
    host = make_host(key_type, muxer)
    serve_metadata(host, cluster)
    async with host.run(listen_addrs=[multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
        info = info_from_p2p_addr(multiaddr.Multiaddr(address))
        try:
            with trio.fail_after(20):
                await host.connect(info)
            print(json.dumps({"connected": str(host.get_id())}), flush=True)
        except BaseException as error:  # noqa: BLE001 - report any failure to the test
            print(json.dumps({"error": repr(error)}), flush=True)
            return
        stdin = trio.wrap_file(sys.stdin)
        async for line in stdin:
            if not line.strip():
                continue
            try:
                with trio.fail_after(30):
                    result = await run_command(host, info.peer_id, json.loads(line))
            except BaseException as error:  # noqa: BLE001
                result = {"error": repr(error)}
            print(json.dumps(result), flush=True)


async def listen(key_type, muxer, cluster):
    host = make_host(key_type, muxer)
    serve_metadata(host, cluster)

    async def echo(stream):
        data = await read_all(stream)
        await stream.write(data)
        await stream.close()

    host.set_stream_handler(ECHO, echo)
    async with host.run(listen_addrs=[multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
        address = f"{host.get_addrs()[0]}"
        if "/p2p/" not in address:
            address += f"/p2p/{host.get_id()}"
        print(json.dumps({"addr": address}), flush=True)
        stdin = trio.wrap_file(sys.stdin)
        async for _ in stdin:
            pass


def main():
    mode = sys.argv[1]
    if mode == "dial":
        cluster = int(sys.argv[5]) if len(sys.argv) > 5 else 0
        trio.run(dial, sys.argv[2], sys.argv[3], sys.argv[4], cluster)
    else:
        cluster = int(sys.argv[4]) if len(sys.argv) > 4 else 0
        trio.run(listen, sys.argv[2], sys.argv[3], cluster)


if __name__ == "__main__":
    main()
