/// A 32-byte identifier: the deterministic message hash of 14/WAKU2-MESSAGE, and the id half of
/// a sync key.
///
/// Stored as four 64-bit words read big-endian, so that comparing words compares the bytes in
/// lexicographic order, which is the order of the sync index.
public struct MessageHash: Hashable, Comparable, Sendable {
    /// Bytes 0..<8 as a big-endian integer.
    public var word0: UInt64
    /// Bytes 8..<16 as a big-endian integer.
    public var word1: UInt64
    /// Bytes 16..<24 as a big-endian integer.
    public var word2: UInt64
    /// Bytes 24..<32 as a big-endian integer.
    public var word3: UInt64

    /// The number of bytes in a hash.
    public static let byteCount = 32

    /// The hash whose bytes are all zero: the id of the lowest possible key at a timestamp.
    public static let zero = MessageHash(word0: 0, word1: 0, word2: 0, word3: 0)

    /// Creates a hash from its four big-endian words.
    public init(word0: UInt64, word1: UInt64, word2: UInt64, word3: UInt64) {
        self.word0 = word0
        self.word1 = word1
        self.word2 = word2
        self.word3 = word3
    }

    /// Reads a hash from the first 32 bytes of a buffer; the caller guarantees there are 32.
    @inlinable
    init(_ raw: UnsafeRawBufferPointer) {
        precondition(raw.count >= 32, "a message hash needs 32 bytes")
        self.word0 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        self.word1 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        self.word2 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        self.word3 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    /// Creates a hash from exactly 32 bytes, or returns nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 32 else { return nil }
        let array = Array(bytes)
        self = array.withUnsafeBytes { MessageHash($0) }
    }

    /// The 32 bytes, most significant first.
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(32)
        append(to: &out)
        return out
    }

    /// Appends the 32 bytes to a buffer.
    @inlinable
    public func append(to out: inout [UInt8]) {
        withUnsafeBytes(of: (word0.bigEndian, word1.bigEndian, word2.bigEndian, word3.bigEndian)) {
            out.append(contentsOf: $0)
        }
    }

    /// Appends the first `count` bytes (0...32) to a buffer.
    func appendPrefix(_ count: Int, to out: inout [UInt8]) {
        guard count > 0 else { return }
        if count == 32 {
            append(to: &out)
        } else {
            out.append(contentsOf: bytes.prefix(count))
        }
    }

    /// The words in order, most significant first.
    @inlinable
    var words: (UInt64, UInt64, UInt64, UInt64) { (word0, word1, word2, word3) }

    /// The hash with every byte from `count` on set to zero.
    func keepingPrefix(_ count: Int) -> MessageHash {
        precondition((0...32).contains(count))
        func mask(_ word: UInt64, wordIndex: Int) -> UInt64 {
            let keep = min(max(count - wordIndex * 8, 0), 8)
            if keep == 8 { return word }
            if keep == 0 { return 0 }
            return word & ~(UInt64.max >> UInt64(keep * 8))
        }
        return MessageHash(
            word0: mask(word0, wordIndex: 0),
            word1: mask(word1, wordIndex: 1),
            word2: mask(word2, wordIndex: 2),
            word3: mask(word3, wordIndex: 3)
        )
    }

    /// The number of leading bytes this hash shares with another (0...32).
    func sharedPrefixLength(with other: MessageHash) -> Int {
        let pairs = [(word0, other.word0), (word1, other.word1), (word2, other.word2), (word3, other.word3)]
        for (index, pair) in pairs.enumerated() where pair.0 != pair.1 {
            return index * 8 + (pair.0 ^ pair.1).leadingZeroBitCount / 8
        }
        return 32
    }

    @inlinable
    public static func < (lhs: MessageHash, rhs: MessageHash) -> Bool {
        if lhs.word0 != rhs.word0 { return lhs.word0 < rhs.word0 }
        if lhs.word1 != rhs.word1 { return lhs.word1 < rhs.word1 }
        if lhs.word2 != rhs.word2 { return lhs.word2 < rhs.word2 }
        return lhs.word3 < rhs.word3
    }
}

extension MessageHash {
    /// The bytewise XOR of two hashes: the store-sync fingerprint combines hashes so.
    @inlinable
    public func xor(_ other: MessageHash) -> MessageHash {
        MessageHash(
            word0: word0 ^ other.word0, word1: word1 ^ other.word1, word2: word2 ^ other.word2,
            word3: word3 ^ other.word3)
    }
}
