/// Unsigned LEB128 varints (least significant group first), as nim-libp2p and the reference Waku
/// node's store-sync codec write them. Not Negentropy's varint, which puts the most significant
/// group first.
public enum LEB128 {
    /// Appends `value` in its shortest encoding.
    public static func write(_ value: UInt64, to output: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            output.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        output.append(UInt8(rest))
    }
}

extension ByteReader {
    /// Reads a shortest-form unsigned LEB128 varint of at most 64 bits.
    public mutating func readLEB128(_ what: StaticString) throws(WireError) -> UInt64 {
        let start = offset
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try readByte(what)
            let group = UInt64(byte & 0x7F)
            guard shift < 64, shift < 63 || group <= 1 else { throw .varIntOverflow(what: "\(what)", offset: start) }
            result |= group << shift
            if byte & 0x80 == 0 {
                guard byte != 0 || offset - start == 1 else { throw .nonMinimalVarInt(what: "\(what)", offset: start) }
                return result
            }
            shift += 7
        }
    }
}
