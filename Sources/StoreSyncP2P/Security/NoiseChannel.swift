import NIOCore

/// The Noise protocol on a libp2p connection (`/noise`): the handshake over the raw bytes, then
/// every message a 2-byte big-endian length followed by at most 65 535 bytes of ciphertext.
public enum NoiseChannel {
    public static let protocolID = "/noise"
    /// The most ciphertext one message carries.
    public static let maximumMessage = 65_535
    /// The most plaintext one message carries.
    public static let maximumPlaintext = maximumMessage - NoiseCipherState.tagLength

    /// Takes one framed message from the front of `buffer`.
    static func decode(_ buffer: inout ByteBuffer) -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
            buffer.readableBytes >= 2 + Int(length)
        else { return nil }
        buffer.moveReaderIndex(forwardBy: 2)
        return buffer.readSlice(length: Int(length))
    }

    /// Frames one message.
    static func frame(_ bytes: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(2 + bytes.count)
        buffer.writeInteger(UInt16(bytes.count))
        buffer.writeBytes(bytes)
        return buffer
    }

    /// Runs the handshake; a dialler passes the PeerId it dialled, which the peer must prove.
    static func handshake<Raw>(
        role: NoiseHandshake.Role, identity: PrivateKey, expected: PeerID?,
        reader: inout BufferedReader<Raw>, write: (ByteBuffer) async throws -> Void
    ) async throws -> NoiseHandshake.Result {
        var handshake = NoiseHandshake(role: role, identity: identity)
        if role == .initiator { try await write(frame(try handshake.initiate())) }
        while !handshake.isDone {
            let message = try await reader.next(decode)
            if let reply = try handshake.receive(Array(message.readableBytesView)) {
                try await write(frame(reply))
            }
        }
        let result = try handshake.result()
        if let expected, result.remotePeer != expected {
            throw P2PError.peerMismatch(expected: expected.description, actual: result.remotePeer.description)
        }
        return result
    }

    /// Encrypts `plaintext` into framed messages.
    static func seal(_ plaintext: ByteBuffer, with cipher: inout NoiseCipherState) throws(P2PError) -> ByteBuffer {
        var output = ByteBuffer()
        output.reserveCapacity(plaintext.readableBytes + 18 * (plaintext.readableBytes / maximumPlaintext + 1))
        var rest = plaintext
        repeat {
            let chunk = rest.readSlice(length: min(rest.readableBytes, maximumPlaintext))!
            try cipher.seal(chunk.readableBytesView, into: &output)
        } while rest.readableBytes > 0
        return output
    }
}

/// The plaintext of a Noise channel, read message by message.
struct SecureReader<Raw: ChunkSource>: ChunkSource {
    var raw: BufferedReader<Raw>
    var cipher: NoiseCipherState

    mutating func nextChunk() async throws -> ByteBuffer? {
        guard let message = try await raw.nextOrEnd(NoiseChannel.decode) else { return nil }
        return try cipher.open(message)
    }
}
