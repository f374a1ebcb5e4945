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

    mutating func encrypt(_ plaintext: some Collection<UInt8>, associatedData: [UInt8]) throws(P2PError) -> [UInt8] {
        guard let key else { return Array(plaintext) }
        guard nonce < UInt64.max else { throw .handshake("Noise nonce exhausted") }
        do {
            let box = try ChaChaPoly.seal(
                Array(plaintext), using: SymmetricKey(data: key), nonce: nonceValue(), authenticating: associatedData)
            nonce += 1
            return Array(box.ciphertext) + Array(box.tag)
        } catch {
            throw .handshake("encryption failed: \(error)")
        }
    }

    /// Encrypts one transport message straight into `output`, behind its 2-byte length.
    mutating func seal(_ plaintext: ByteBufferView, into output: inout ByteBuffer) throws(P2PError) {
        guard let key else { throw .handshake("no transport key") }
        guard nonce < UInt64.max else { throw .handshake("Noise nonce exhausted") }
        do {
            let box = try ChaChaPoly.seal(plaintext, using: SymmetricKey(data: key), nonce: nonceValue())
            nonce += 1
            output.writeInteger(UInt16(box.ciphertext.count + Self.tagLength))
            output.writeBytes(box.ciphertext)
            output.writeBytes(box.tag)
        } catch {
            throw .handshake("encryption failed: \(error)")
        }
    }

    /// Decrypts one transport message.
    mutating func open(_ message: ByteBuffer) throws(P2PError) -> ByteBuffer {
        guard let key else { throw .handshake("no transport key") }
        guard message.readableBytes >= Self.tagLength else { throw .handshake("ciphertext shorter than its tag") }
        guard nonce < UInt64.max else { throw .handshake("Noise nonce exhausted") }
        do {
            let view = message.readableBytesView
            let box = try ChaChaPoly.SealedBox(
                nonce: nonceValue(), ciphertext: view.dropLast(Self.tagLength), tag: view.suffix(Self.tagLength))
            let plaintext = try ChaChaPoly.open(box, using: SymmetricKey(data: key))
            nonce += 1
            return ByteBuffer(data: plaintext)
        } catch {
            throw .handshake("a message failed authentication")
        }
    }

    mutating func decrypt(_ ciphertext: some Collection<UInt8>, associatedData: [UInt8]) throws(P2PError) -> [UInt8] {
        guard let key else { return Array(ciphertext) }
        guard ciphertext.count >= Self.tagLength else { throw .handshake("ciphertext shorter than its tag") }
        guard nonce < UInt64.max else { throw .handshake("Noise nonce exhausted") }
        do {
            let bytes = Array(ciphertext)
            let box = try ChaChaPoly.SealedBox(
                nonce: nonceValue(), ciphertext: bytes.dropLast(Self.tagLength), tag: bytes.suffix(Self.tagLength))
            let plaintext = try ChaChaPoly.open(box, using: SymmetricKey(data: key), authenticating: associatedData)
            nonce += 1
            return Array(plaintext)
        } catch {
            throw .handshake("a message failed authentication")
        }
    }
}
