/// The variable-length unsigned integers of the Negentropy wire format.
///
/// Base 128, most significant group first, the high bit set on every byte but the last. Encodings
/// are minimal: a leading byte of 0x80 (a zero group before the first significant one) is
/// rejected on decode, so every value has exactly one encoding.
public enum VarInt {
    /// The encoded length of a value, 1...10 bytes.
    @inlinable
    public static func encodedLength(of value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }

    /// Appends the encoding of a value.
    @inlinable
    public static func encode(_ value: UInt64, into out: inout [UInt8]) {
        let length = encodedLength(of: value)
        var shift = UInt64((length - 1) * 7)
        while shift > 0 {
            out.append(UInt8(truncatingIfNeeded: value >> shift) | 0x80)
            shift -= 7
        }
        out.append(UInt8(truncatingIfNeeded: value) & 0x7F)
    }

    /// The encoding of a value as a new array.
    public static func encode(_ value: UInt64) -> [UInt8] {
        var out = [UInt8]()
        encode(value, into: &out)
        return out
    }
}
