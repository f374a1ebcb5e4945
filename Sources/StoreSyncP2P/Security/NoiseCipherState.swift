import Crypto

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
