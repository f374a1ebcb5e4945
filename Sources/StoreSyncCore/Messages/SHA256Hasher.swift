import CLibCrypto

/// The SHA-256 algorithm object, fetched once from libcrypto and shared by every hasher.
///
/// Fetching the algorithm explicitly (rather than naming it on every digest) avoids a provider
/// lookup per message; the object is immutable after the fetch, so sharing it is safe.
private struct FetchedDigest: @unchecked Sendable {
    let algorithm: OpaquePointer

    static let sha256: FetchedDigest = {
        guard let algorithm = EVP_MD_fetch(nil, "SHA256", nil) else {
            preconditionFailure("libcrypto has no SHA256 implementation")
        }
        return FetchedDigest(algorithm: algorithm)
    }()
}

/// A reusable SHA-256 context on libcrypto's EVP interface.
///
/// Message hashing and range fingerprints hash millions of short inputs; reusing one context per
/// owner is several times faster than the one-shot call. An instance belongs to one owner (a
/// reconciliation session, an ingest loop) and is not shared between threads.
public final class SHA256Hasher {
    private let context: OpaquePointer

    /// Creates a context ready for `begin()`.
    public init() {
        guard let context = EVP_MD_CTX_new() else {
            preconditionFailure("EVP_MD_CTX_new failed: out of memory")
        }
        self.context = context
    }

    deinit {
        EVP_MD_CTX_free(context)
    }

    /// Starts a new digest, discarding any input given since the last `finish()`.
    public func begin() {
        EVP_DigestInit_ex2(context, FetchedDigest.sha256.algorithm, nil)
    }

    /// Feeds bytes into the digest under way.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    /// Feeds the bytes of an array into the digest under way.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Feeds the UTF-8 bytes of a string into the digest under way.
    public func update(_ string: String) {
        var string = string
        string.withUTF8 { update(UnsafeRawBufferPointer($0)) }
    }

    /// Ends the digest and returns the 32-byte result.
    public func finish() -> MessageHash {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
            var length: UInt32 = 0
            EVP_DigestFinal_ex(context, buffer.baseAddress, &length)
            return MessageHash(UnsafeRawBufferPointer(buffer))
        }
    }

    /// Hashes one buffer in a single call.
    public func hash(_ bytes: UnsafeRawBufferPointer) -> MessageHash {
        begin()
        update(bytes)
        return finish()
    }
}
