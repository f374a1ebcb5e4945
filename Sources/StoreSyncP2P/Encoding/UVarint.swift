import NIOCore

/// Unsigned LEB128 varints, least significant group first: the length prefix of multistream,
/// mplex headers, protobuf fields and every varint-prefixed libp2p message. (Negentropy's varints
/// are the other way round; see `StoreSyncCore.VarInt`.)
public enum UVarint {
    /// The most bytes a 64-bit varint takes.
    public static let maximumLength = 10

    /// Appends the encoding of `value`.
    public static func write(_ value: UInt64, to buffer: inout ByteBuffer) {
        var value = value
        while value >= 0x80 {
            buffer.writeInteger(UInt8(value & 0x7F | 0x80))
            value >>= 7
        }
        buffer.writeInteger(UInt8(value))
    }

    /// Appends the encoding of `value`.
    public static func write(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F | 0x80))
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    /// Bytes the encoding of `value` takes.
    public static func length(of value: UInt64) -> Int {
        var value = value
        var count = 1
        while value >= 0x80 {
            value >>= 7
            count += 1
        }
        return count
    }

    /// Reads a varint at the reader index without moving it: the value and the bytes it took, or
    /// nil when the buffer ends inside it. Throws for more than 64 bits or a non-minimal encoding.
    public static func peek(_ buffer: ByteBuffer, what: String) throws(P2PError) -> (value: UInt64, length: Int)? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        var index = buffer.readerIndex
        while index < buffer.writerIndex {
            let byte = buffer.getInteger(at: index, as: UInt8.self)!
            index += 1
            let length = index - buffer.readerIndex
            guard length <= maximumLength, shift < 64, !(shift == 63 && byte > 1) else {
                throw .malformed("\(what): varint longer than 64 bits")
            }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                guard byte != 0 || length == 1 else { throw .malformed("\(what): non-minimal varint") }
                return (value, length)
            }
            shift += 7
        }
        guard index - buffer.readerIndex < maximumLength else {
            throw .malformed("\(what): varint longer than 64 bits")
        }
        return nil
    }

    /// Reads a varint and moves past it; nil when the buffer ends inside it.
    public static func read(_ buffer: inout ByteBuffer, what: String) throws(P2PError) -> UInt64? {
        guard let (value, length) = try peek(buffer, what: what) else { return nil }
        buffer.moveReaderIndex(forwardBy: length)
        return value
    }

    /// Reads a varint-prefixed message when the buffer holds all of it; the prefix is checked
    /// against `limit` before anything is taken.
    public static func readPrefixed(_ buffer: inout ByteBuffer, limit: Int, what: String) throws(P2PError)
        -> ByteBuffer?
    {
        guard let (length, prefix) = try peek(buffer, what: what) else { return nil }
        guard length <= UInt64(limit) else { throw .tooLarge(what: what, size: Int(clamping: length), limit: limit) }
        guard buffer.readableBytes >= prefix + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: prefix)
        return buffer.readSlice(length: Int(length))
    }

    /// Appends `message` behind its varint length.
    public static func writePrefixed(_ message: ByteBuffer, to buffer: inout ByteBuffer) {
        write(UInt64(message.readableBytes), to: &buffer)
        var message = message
        buffer.writeBuffer(&message)
    }
}
