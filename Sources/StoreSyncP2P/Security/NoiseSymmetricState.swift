import Crypto

/// The Noise framework's SymmetricState for `Noise_XX_25519_ChaChaPoly_SHA256`: the chaining key
/// and handshake hash that every handshake message is mixed into, and the cipher they key.
struct NoiseSymmetricState: Sendable {
    static let protocolName = Array("Noise_XX_25519_ChaChaPoly_SHA256".utf8)

    private var chainingKey: [UInt8]
    private(set) var hash: [UInt8]
    private var cipher = NoiseCipherState()

    /// Starts with the protocol name (32 bytes: used as is) and an empty prologue.
    init() {
        hash = Self.protocolName
        chainingKey = hash
        mixHash([])
    }

    mutating func mixHash(_ data: some Sequence<UInt8>) {
        var hasher = SHA256()
        hasher.update(data: hash)
        hasher.update(data: Array(data))
        hash = Array(hasher.finalize())
    }

    mutating func mixKey(_ inputKeyMaterial: [UInt8]) {
        let (chaining, key) = Self.hkdf(chainingKey: chainingKey, input: inputKeyMaterial)
        chainingKey = chaining
        cipher = NoiseCipherState(key: key)
    }

    mutating func encryptAndHash(_ plaintext: [UInt8]) throws(P2PError) -> [UInt8] {
        let ciphertext = try cipher.encrypt(plaintext, associatedData: hash)
        mixHash(ciphertext)
        return ciphertext
    }

    mutating func decryptAndHash(_ ciphertext: some Collection<UInt8>) throws(P2PError) -> [UInt8] {
        let plaintext = try cipher.decrypt(ciphertext, associatedData: hash)
        mixHash(ciphertext)
        return plaintext
    }

    /// Bytes `encryptAndHash` adds now: the tag once a key is set.
    var overhead: Int { cipher.hasKey ? NoiseCipherState.tagLength : 0 }

    /// The two transport ciphers: the initiator sends with the first.
    func split() -> (NoiseCipherState, NoiseCipherState) {
        let (first, second) = Self.hkdf(chainingKey: chainingKey, input: [])
        return (NoiseCipherState(key: first), NoiseCipherState(key: second))
    }

    /// Noise's HKDF with two outputs, over HMAC-SHA-256.
    static func hkdf(chainingKey: [UInt8], input: [UInt8]) -> ([UInt8], [UInt8]) {
        let temporary = SymmetricKey(
            data: Array(HMAC<SHA256>.authenticationCode(for: input, using: SymmetricKey(data: chainingKey))))
        let first = Array(HMAC<SHA256>.authenticationCode(for: [1], using: temporary))
        let second = Array(HMAC<SHA256>.authenticationCode(for: first + [2], using: temporary))
        return (first, second)
    }
}
