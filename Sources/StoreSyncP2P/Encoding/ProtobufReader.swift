/// Reads the fields of a protobuf message from a peer, one at a time, never past its end.
/// Unknown fields are for the caller to skip (peers add extensions); wire types other than
/// varint, 64-bit, length-delimited and 32-bit are malformed.
public struct ProtobufReader: Sendable {
    /// One field's value.
    public enum Value: Sendable, Equatable {
        case varint(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed64(UInt64)
        case fixed32(UInt32)
    }

    private let bytes: [UInt8]
    private var offset = 0
    private let what: String

    /// Reads `bytes` as the message named `what` (for errors).
    public init(_ bytes: [UInt8], what: String) {
        self.bytes = bytes
        self.what = what
    }

    /// The next field, or nil at the end of the message.
    public mutating func next() throws(P2PError) -> (field: UInt64, value: Value)? {
        guard offset < bytes.count else { return nil }
        let key = try varint()
        let field = key >> 3
        guard field > 0 else { throw .malformed("\(what): field number 0") }
        switch key & 7 {
        case 0:
            return (field, .varint(try varint()))
        case 1:
            return (field, .fixed64(try littleEndian(8)))
        case 2:
            let length = try varint()
            guard length <= UInt64(bytes.count - offset) else {
                throw .malformed("\(what): field \(field) runs past the end")
            }
            let start = offset
            offset += Int(length)
            return (field, .bytes(bytes[start..<offset]))
        case 5:
            return (field, .fixed32(UInt32(truncatingIfNeeded: try littleEndian(4))))
        default:
            throw .malformed("\(what): wire type \(key & 7)")
        }
    }

    private mutating func littleEndian(_ count: Int) throws(P2PError) -> UInt64 {
        guard bytes.count - offset >= count else { throw .malformed("\(what): truncated fixed field") }
        var value: UInt64 = 0
        for index in 0..<count { value |= UInt64(bytes[offset + index]) << (8 * UInt64(index)) }
        offset += count
        return value
    }

    /// The next `count` raw bytes.
    mutating func fixed(_ count: Int) throws(P2PError) -> [UInt8] {
        guard count >= 0, bytes.count - offset >= count else { throw .malformed("\(what): truncated") }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// Whether every byte has been read.
    var isAtEnd: Bool { offset >= bytes.count }

    /// A bare varint (a field key, a varint value, an element of a packed field).
    mutating func varint() throws(P2PError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw .malformed("\(what): truncated varint") }
            let byte = bytes[offset]
            offset += 1
            guard shift < 64, !(shift == 63 && byte > 1) else { throw .malformed("\(what): varint over 64 bits") }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }
}

extension ProtobufReader.Value {
    /// The bytes of a length-delimited field, or a typed error naming the field.
    public func bytes(_ what: String) throws(P2PError) -> [UInt8] {
        guard case .bytes(let slice) = self else { throw .malformed("\(what) is not a length-delimited field") }
        return Array(slice)
    }

    /// The value of a varint field, or a typed error naming the field.
    public func varint(_ what: String) throws(P2PError) -> UInt64 {
        guard case .varint(let value) = self else { throw .malformed("\(what) is not a varint field") }
        return value
    }

    /// A UTF-8 string field.
    public func string(_ what: String) throws(P2PError) -> String {
        let raw = try bytes(what)
        guard let text = String(validating: raw, as: UTF8.self) else { throw .malformed("\(what) is not UTF-8") }
        return text
    }

    /// A repeated varint field, packed or not.
    public func varints(_ what: String) throws(P2PError) -> [UInt64] {
        switch self {
        case .varint(let value):
            return [value]
        case .bytes(let slice):
            var reader = ProtobufReader(Array(slice), what: what)
            var values: [UInt64] = []
            while !reader.isAtEnd { values.append(try reader.varint()) }
            return values
        default:
            throw .malformed("\(what) is not a varint field")
        }
    }
}
