/// The running sum of a set of ids, taken as 256-bit little-endian integers modulo 2^256.
///
/// Addition is commutative and invertible, so the sum of any key range can be kept in a tree of
/// partial sums, or as the difference of two prefix sums, without rescanning the range.
public struct Accumulator: Hashable, Sendable {
    /// Limbs of the 256-bit sum, least significant first.
    public var limb0: UInt64 = 0
    /// Second limb.
    public var limb1: UInt64 = 0
    /// Third limb.
    public var limb2: UInt64 = 0
    /// Most significant limb.
    public var limb3: UInt64 = 0

    /// The empty sum.
    public init() {}

    /// Creates a sum from its limbs, least significant first.
    public init(limb0: UInt64, limb1: UInt64, limb2: UInt64, limb3: UInt64) {
        self.limb0 = limb0
        self.limb1 = limb1
        self.limb2 = limb2
        self.limb3 = limb3
    }

    /// The sum holding just one id.
    @inlinable
    public init(_ hash: MessageHash) {
        limb0 = hash.word0.byteSwapped
        limb1 = hash.word1.byteSwapped
        limb2 = hash.word2.byteSwapped
        limb3 = hash.word3.byteSwapped
    }

    /// Adds an id.
    @inlinable
    public mutating func add(_ hash: MessageHash) {
        add(Accumulator(hash))
    }

    /// Adds another sum.
    @inlinable
    public mutating func add(_ other: Accumulator) {
        var carry: UInt64
        (limb0, carry) = Self.addWithCarry(limb0, other.limb0, 0)
        (limb1, carry) = Self.addWithCarry(limb1, other.limb1, carry)
        (limb2, carry) = Self.addWithCarry(limb2, other.limb2, carry)
        (limb3, _) = Self.addWithCarry(limb3, other.limb3, carry)
    }

    /// Subtracts another sum, so that `a + b - b == a` for every `a` and `b`.
    @inlinable
    public mutating func subtract(_ other: Accumulator) {
        var borrow: UInt64
        (limb0, borrow) = Self.subtractWithBorrow(limb0, other.limb0, 0)
        (limb1, borrow) = Self.subtractWithBorrow(limb1, other.limb1, borrow)
        (limb2, borrow) = Self.subtractWithBorrow(limb2, other.limb2, borrow)
        (limb3, _) = Self.subtractWithBorrow(limb3, other.limb3, borrow)
    }

    /// The sum with another sum added.
    @inlinable
    public func adding(_ other: Accumulator) -> Accumulator {
        var copy = self
        copy.add(other)
        return copy
    }

    /// The sum with another sum subtracted.
    @inlinable
    public func subtracting(_ other: Accumulator) -> Accumulator {
        var copy = self
        copy.subtract(other)
        return copy
    }

    /// The 32 bytes of the sum, little-endian, as they enter a fingerprint.
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(32)
        for limb in [limb0, limb1, limb2, limb3] {
            withUnsafeBytes(of: limb.littleEndian) { out.append(contentsOf: $0) }
        }
        return out
    }

    /// Reads a sum from 32 little-endian bytes; the caller guarantees there are 32.
    public init(littleEndianBytes raw: UnsafeRawBufferPointer) {
        precondition(raw.count >= 32, "an accumulator needs 32 bytes")
        limb0 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        limb1 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        limb2 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        limb3 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    @inlinable
    static func addWithCarry(_ a: UInt64, _ b: UInt64, _ carry: UInt64) -> (UInt64, UInt64) {
        let (partial, overflow1) = a.addingReportingOverflow(b)
        let (sum, overflow2) = partial.addingReportingOverflow(carry)
        return (sum, (overflow1 ? 1 : 0) + (overflow2 ? 1 : 0))
    }

    @inlinable
    static func subtractWithBorrow(_ a: UInt64, _ b: UInt64, _ borrow: UInt64) -> (UInt64, UInt64) {
        let (partial, overflow1) = a.subtractingReportingOverflow(b)
        let (difference, overflow2) = partial.subtractingReportingOverflow(borrow)
        return (difference, (overflow1 ? 1 : 0) + (overflow2 ? 1 : 0))
    }
}
