import CSecp256k1
import Crypto

/// secp256k1 as libp2p uses it, through Debian's libsecp256k1: compressed 33-byte public keys,
/// ECDSA signatures over the SHA-256 of the message, DER-encoded.
enum Secp256k1 {
    /// One context for the process: libsecp256k1 contexts are safe to share once created.
    private final class Context: @unchecked Sendable {
        let pointer: OpaquePointer
        init() {
            // Creation fails only on allocation failure, after which nothing else can run.
            pointer = secp256k1_context_create(UInt32(SECP256K1_CONTEXT_NONE))!
        }
    }
    private static let shared = Context()

    /// Whether `secret` is a valid private key (non-zero, below the group order).
    static func isValidSecret(_ secret: [UInt8]) -> Bool {
        secret.count == 32
            && secret.withUnsafeBufferPointer { secp256k1_ec_seckey_verify(shared.pointer, $0.baseAddress!) == 1 }
    }

    /// The compressed public key of `secret`.
    static func publicKey(secret: [UInt8]) throws(P2PError) -> [UInt8] {
        var key = secp256k1_pubkey()
        guard isValidSecret(secret),
            secret.withUnsafeBufferPointer({ secp256k1_ec_pubkey_create(shared.pointer, &key, $0.baseAddress!) }) == 1
        else { throw .unsupportedKey("invalid secp256k1 private key") }
        return serialize(&key)
    }

    /// The compressed form of a public key given compressed or uncompressed, or nil if it is not a
    /// point on the curve.
    static func compressed(_ publicKey: [UInt8]) -> [UInt8]? {
        var key = secp256k1_pubkey()
        guard publicKey.count == 33 || publicKey.count == 65,
            publicKey.withUnsafeBufferPointer({
                secp256k1_ec_pubkey_parse(shared.pointer, &key, $0.baseAddress!, $0.count)
            }) == 1
        else { return nil }
        return serialize(&key)
    }

    private static func serialize(_ key: inout secp256k1_pubkey) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 33)
        var length = 33
        _ = secp256k1_ec_pubkey_serialize(shared.pointer, &output, &length, &key, UInt32(SECP256K1_EC_COMPRESSED))
        return output
    }

    /// The DER signature of SHA-256(`message`) by `secret`.
    static func sign(_ message: [UInt8], secret: [UInt8]) throws(P2PError) -> [UInt8] {
        let digest = Array(SHA256.hash(data: message))
        var signature = secp256k1_ecdsa_signature()
        guard isValidSecret(secret),
            secret.withUnsafeBufferPointer({ secretBytes in
                secp256k1_ecdsa_sign(shared.pointer, &signature, digest, secretBytes.baseAddress!, nil, nil)
            }) == 1
        else { throw .unsupportedKey("secp256k1 signing failed") }
        var output = [UInt8](repeating: 0, count: 72)
        var length = 72
        _ = secp256k1_ecdsa_signature_serialize_der(shared.pointer, &output, &length, &signature)
        return Array(output.prefix(length))
    }

    /// Whether `signature` (DER) is `publicKey`'s over SHA-256(`message`). High-S signatures are
    /// accepted as their low-S twins, as other libp2p implementations do.
    static func verify(_ signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        var key = secp256k1_pubkey()
        var parsed = secp256k1_ecdsa_signature()
        guard !signature.isEmpty, signature.count <= 72,
            publicKey.withUnsafeBufferPointer({
                secp256k1_ec_pubkey_parse(shared.pointer, &key, $0.baseAddress!, $0.count)
            }) == 1,
            signature.withUnsafeBufferPointer({
                secp256k1_ecdsa_signature_parse_der(shared.pointer, &parsed, $0.baseAddress!, $0.count)
            }) == 1
        else { return false }
        var normalized = secp256k1_ecdsa_signature()
        _ = secp256k1_ecdsa_signature_normalize(shared.pointer, &normalized, &parsed)
        let digest = Array(SHA256.hash(data: message))
        return secp256k1_ecdsa_verify(shared.pointer, &normalized, digest, &key) == 1
    }
}
