/// A cursor over untrusted bytes that never reads past the end: every read either succeeds or
/// throws a `WireError` naming what was being read and where.
public struct ByteReader: Sendable {
    /// The bytes being read.
    public let bytes: [UInt8]
    /// The offset of the next byte to read.
    public private(set) var offset: Int

    /// Creates a reader at the first byte.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.offset = 0
    }

    /// The number of bytes not yet read.
    public var remaining: Int { bytes.count - offset }

    /// Whether every byte has been read.
    public var isAtEnd: Bool { offset >= bytes.count }

    /// Reads one byte.
    public mutating func readByte(_ what: StaticString) throws(WireError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(what: "\(what)", offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Reads a minimal base-128 varint of at most 64 bits.
    public mutating func readVarInt(_ what: StaticString) throws(WireError) -> UInt64 {
        let start = offset
        var result: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw .truncated(what: "\(what)", offset: start) }
            let byte = bytes[offset]
            offset += 1
            if offset - 1 == start && byte == 0x80 {
                throw .nonMinimalVarInt(what: "\(what)", offset: start)
            }
            guard result >> 57 == 0 else { throw .varIntOverflow(what: "\(what)", offset: start) }
            result = result << 7 | UInt64(byte & 0x7F)
            if byte & 0x80 == 0 { return result }
        }
    }

    /// Reads `count` bytes, after checking that they are there.
    public mutating func readBytes(_ count: Int, _ what: StaticString) throws(WireError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw .truncated(what: "\(what)", offset: offset)
        }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    /// Reads a 32-byte hash.
    public mutating func readHash(_ what: StaticString) throws(WireError) -> MessageHash {
        guard remaining >= 32 else { throw .truncated(what: "\(what)", offset: offset) }
        defer { offset += 32 }
        return bytes.withUnsafeBytes { MessageHash(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + 32)])) }
    }
}
