import Foundation
import FuzzSupport
import NIOCore
import StoreSyncNode

@testable import StoreSyncP2P

// libFuzzer target for the libp2p layer's decoders; the first input byte picks one. Beyond "no
// crash": a multistream message, a Noise payload, identify, metadata, a public key and a binary
// multiaddr that decode re-encode to bytes that decode to the same value; the yamux and mplex
// machines either take the bytes or throw a typed error, and never hold more than one bounded
// frame; a Noise responder fed the bytes as handshake messages fails with a typed error.

func fuzzOne(_ bytes: [UInt8]) {
    guard let selector = bytes.first else { return }
    let body = Array(bytes.dropFirst())
    switch selector % 9 {
    case 0:
        var buffer = ByteBuffer(bytes: body)
        guard let text = try? Multistream.decode(&buffer) else { return }
        var encoded = Multistream.encode(text)
        fuzzCheck((try? Multistream.decode(&encoded)) == text, "a multistream message re-encodes to itself")
    case 1:
        guard let payload = try? NoisePayload(decoding: body) else { return }
        fuzzCheck((try? NoisePayload(decoding: payload.encoded)) == payload, "a Noise payload re-encodes to itself")
        _ = try? payload.verifiedKey(staticKey: [UInt8](repeating: 0, count: 32))
    case 2, 3:
        let limits = MuxerLimits(maximumStreams: 8, maximumMplexMessage: 4_096)
        var buffer = ByteBuffer(bytes: body)
        var events: [MuxerEvent] = []
        if selector % 9 == 2 {
            var session = YamuxSession(role: .listener, limits: limits)
            _ = try? session.receive(&buffer, into: &events)
            fuzzCheck(buffer.readableBytes <= YamuxHeader.size + YamuxSession.initialWindow, "yamux holds one frame")
        } else {
            var session = MplexSession(role: .listener, limits: limits)
            _ = try? session.receive(&buffer, into: &events)
            fuzzCheck(buffer.readableBytes <= 2 * UVarint.maximumLength + 4_096, "mplex holds one message")
        }
    case 4:
        guard let identify = try? Identify(decoding: body) else { return }
        fuzzCheck((try? Identify(decoding: identify.encoded)) == identify, "identify re-encodes to itself")
    case 5:
        guard let metadata = try? WakuMetadata(decoding: body) else { return }
        fuzzCheck((try? WakuMetadata(decoding: metadata.encoded)) == metadata, "metadata re-encodes to itself")
    case 6:
        guard let key = try? PublicKey(protobuf: body) else { return }
        fuzzCheck((try? PublicKey(protobuf: key.protobuf)) == key, "a public key re-encodes to itself")
        _ = key.verify(body, message: body)
    case 7:
        guard let address = try? Multiaddr(binary: body) else { return }
        fuzzCheck((try? Multiaddr(binary: address.binary)) == address, "a multiaddr re-encodes to itself")
        fuzzCheck((try? Multiaddr(address.description)) == address, "a multiaddr's text reads back")
    case 8:
        guard let identity = fuzzIdentity else { return }
        var responder = NoiseHandshake(role: .responder, identity: identity)
        let split = body.isEmpty ? 0 : Int(body[0]) % (body.count + 1)
        do {
            _ = try responder.receive(Array(body.prefix(split)))
            _ = try responder.receive(Array(body.dropFirst(split)))
        } catch {
            return
        }
        fuzzCheck(false, "a handshake completed without a valid signed payload")
    default:
        return
    }
}

let fuzzIdentity = try? PrivateKey.generate(.ed25519)

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    fuzzOne(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

runFuzzTarget(callback: fuzzerTestOneInput, fuzzOne: fuzzOne)
