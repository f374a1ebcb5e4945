/// The 16-byte digest that stands for a key range on the wire: the first half of
/// `SHA-256(accumulator bytes || varint(count))`.
public struct Fingerprint: Hashable, Sendable {
    /// Bytes 0..<8, big-endian.
    public var high: UInt64
    /// Bytes 8..<16, big-endian.
    public var low: UInt64

    /// The number of bytes of a fingerprint on the wire.
    public static let byteCount = 16

    /// Creates a fingerprint from its two big-endian halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Reads a fingerprint from exactly 16 bytes, or returns nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        let array = Array(bytes)
        (high, low) = array.withUnsafeBytes {
            (
                UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            )
        }
    }

    /// The fingerprint of a range whose ids sum to `sum` and which holds `count` items.
    public init(sum: Accumulator, count: Int, hasher: SHA256Hasher) {
        var input = sum.bytes
        VarInt.encode(UInt64(count), into: &input)
        let digest = input.withUnsafeBytes { hasher.hash($0) }
        self.init(high: digest.word0, low: digest.word1)
    }

    /// Appends the 16 bytes to a buffer.
    public func append(to out: inout [UInt8]) {
        withUnsafeBytes(of: high.bigEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: low.bigEndian) { out.append(contentsOf: $0) }
    }

    /// The 16 bytes.
    public var bytes: [UInt8] {
        var out = [UInt8]()
        append(to: &out)
        return out
    }
}
