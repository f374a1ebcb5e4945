import NIOCore

/// A yamux frame header (hashicorp's yamux, as libp2p/specs `yamux/README.md` gives it): version
/// 0, type, flags, stream id and length, 12 bytes big-endian. The length is the payload of a data
/// frame, the window delta of a window update, the opaque value of a ping, the code of a go-away.
struct YamuxHeader: Sendable, Equatable {
    enum Kind: UInt8, Sendable {
        case data = 0
        case windowUpdate = 1
        case ping = 2
        case goAway = 3
    }

    struct Flags: OptionSet, Sendable {
        let rawValue: UInt16
        static let syn = Flags(rawValue: 1)
        static let ack = Flags(rawValue: 2)
        static let fin = Flags(rawValue: 4)
        static let rst = Flags(rawValue: 8)
    }

    static let size = 12

    var kind: Kind
    var flags: Flags
    var streamID: UInt32
    var length: UInt32

    func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(kind.rawValue)
        buffer.writeInteger(flags.rawValue)
        buffer.writeInteger(streamID)
        buffer.writeInteger(length)
    }

    /// The header at the front of `buffer` without taking it, or nil if fewer than 12 bytes wait.
    static func peek(_ buffer: ByteBuffer) throws(P2PError) -> YamuxHeader? {
        guard buffer.readableBytes >= size,
            let version = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
            let kindValue = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self),
            let flags = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self),
            let streamID = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt32.self),
            let length = buffer.getInteger(at: buffer.readerIndex + 8, as: UInt32.self)
        else { return nil }
        guard version == 0 else { throw .malformed("yamux version \(version)") }
        guard let kind = Kind(rawValue: kindValue) else { throw .malformed("yamux frame type \(kindValue)") }
        return YamuxHeader(kind: kind, flags: Flags(rawValue: flags), streamID: streamID, length: length)
    }

    /// A header and payload as bytes.
    static func frame(_ header: YamuxHeader, payload: ByteBuffer? = nil) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(size + (payload?.readableBytes ?? 0))
        header.write(to: &buffer)
        if var payload { buffer.writeBuffer(&payload) }
        return buffer
    }
}
