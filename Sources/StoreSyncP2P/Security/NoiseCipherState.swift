import Crypto
import Foundation
import NIOCore
import NIOFoundationCompat

/// One direction of Noise encryption: ChaChaPoly under a key with a 64-bit counter nonce (four
/// zero bytes, then the counter little-endian). Before a key is set it passes bytes through, as
/// the Noise framework defines for the first handshake message.
struct NoiseCipherState: Sendable {
    /// Bytes ChaChaPoly adds to each message.
    static let tagLength = 16

    private var key: [UInt8]?
    private var nonce: UInt64 = 0

    init(key: [UInt8]? = nil) {
        self.key = key
    }

    var hasKey: Bool { key != nil }

    private func nonceValue() throws -> ChaChaPoly.Nonce {
        var bytes = [UInt8](repeating: 0, count: 12)
        for index in 0..<8 { bytes[4 + index] = UInt8(truncatingIfNeeded: nonce >> (8 * UInt64(index))) }
        return try ChaChaPoly.Nonce(data: bytes)
    }

    /// Seals `plaintext` under `key` and the next nonce: the one place a nonce is spent on sending.
    private mutating func seal(
        _ plaintext: some DataProtocol, key: [UInt8], associatedData: [UInt8]
    ) throws(P2PError) -> ChaChaPoly.SealedBox {
        guard nonce < UInt64.max else { throw .handshake("Noise nonce exhausted") }
        do {
            let box = try ChaChaPoly.seal(
                plaintext, using: SymmetricKey(data: key), nonce: nonceValue(), authenticating: associatedData)
            nonce += 1
            return box
        } catch {
            throw .handshake("encryption failed: \(error)")
        }
    }

    /// Opens a ciphertext and its tag under `key` and the next nonce: the one place a nonce is
    /// spent on receiving.
    private mutating func open(
        ciphertext: some DataProtocol, tag: some DataProtocol, key: [UInt8], associatedData: [UInt8]
    ) throws(P2PError) -> Data {
        guard nonce < UInt64.max else { throw .handshake("Noise nonce exhausted") }
        do {
            let box = try ChaChaPoly.SealedBox(nonce: nonceValue(), ciphertext: ciphertext, tag: tag)
            let plaintext = try ChaChaPoly.open(box, using: SymmetricKey(data: key), authenticating: associatedData)
            nonce += 1
            return plaintext
        } catch {
            throw .handshake("a message failed authentication")
        }
    }

    mutating func encrypt(_ plaintext: some Collection<UInt8>, associatedData: [UInt8]) throws(P2PError) -> [UInt8] {
        guard let key else { return Array(plaintext) }
        let box = try seal(Array(plaintext), key: key, associatedData: associatedData)
        return Array(box.ciphertext) + Array(box.tag)
    }

    /// Encrypts one transport message straight into `output`, behind its 2-byte length.
    mutating func seal(_ plaintext: ByteBufferView, into output: inout ByteBuffer) throws(P2PError) {
        guard let key else { throw .handshake("no transport key") }
        let box = try seal(plaintext, key: key, associatedData: [])
        output.writeInteger(UInt16(box.ciphertext.count + Self.tagLength))
        output.writeBytes(box.ciphertext)
        output.writeBytes(box.tag)
    }

    /// Decrypts one transport message.
    mutating func open(_ message: ByteBuffer) throws(P2PError) -> ByteBuffer {
        guard let key else { throw .handshake("no transport key") }
        guard message.readableBytes >= Self.tagLength else { throw .handshake("ciphertext shorter than its tag") }
        let view = message.readableBytesView
        return ByteBuffer(
            data: try open(
                ciphertext: view.dropLast(Self.tagLength), tag: view.suffix(Self.tagLength), key: key,
                associatedData: []))
    }

    mutating func decrypt(_ ciphertext: some Collection<UInt8>, associatedData: [UInt8]) throws(P2PError) -> [UInt8] {
        guard let key else { return Array(ciphertext) }
        guard ciphertext.count >= Self.tagLength else { throw .handshake("ciphertext shorter than its tag") }
        let bytes = Array(ciphertext)
        return Array(
            try open(
                ciphertext: bytes.dropLast(Self.tagLength), tag: bytes.suffix(Self.tagLength), key: key,
                associatedData: associatedData))
    }
}
