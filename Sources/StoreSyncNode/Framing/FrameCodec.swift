import NIOCore

/// Splits a byte stream into frames: a 4-byte big-endian length, then that many bytes (a kind
/// byte and the body). The length is checked against the maximum before anything of the frame
/// is buffered, so a peer cannot make the node allocate more than one maximum frame.
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = Frame

    /// The largest frame accepted, in bytes after the length prefix.
    public let maximumFrameSize: Int
    /// Where the frames of this connection are counted against the node's buffer budget.
    let ledger: BufferBudget.Ledger?
    /// Whether the frame at the front of the buffer has been counted in.
    private var frontReserved = false

    /// Creates a decoder.
    public init(maximumFrameSize: Int) {
        self.init(maximumFrameSize: maximumFrameSize, ledger: nil)
    }

    /// Creates a decoder that counts each frame against `ledger` before buffering it.
    public init(maximumFrameSize: Int, ledger: BufferBudget.Ledger?) {
        self.maximumFrameSize = maximumFrameSize
        self.ledger = ledger
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try take(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    /// Takes the frame at the front of `buffer` once all of it is there; its length is checked,
    /// and counted against the ledger, as soon as the prefix is.
    mutating func take(from buffer: inout ByteBuffer) throws -> Frame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length > 0 else { throw FrameError.empty }
        guard Int(length) <= maximumFrameSize else {
            throw FrameError.tooLarge(length: length, maximum: maximumFrameSize)
        }
        if let ledger, !frontReserved {
            // The prefix and what it announces.
            try ledger.reserve(4 + Int(length))
            frontReserved = true
        }
        guard buffer.readableBytes >= 4 + Int(length) else {
            // Room for the rest of the frame, counted above: taken once, not grown chunk by chunk.
            buffer.reserveCapacity(minimumWritableBytes: 4 + Int(length) - buffer.readableBytes)
            return nil
        }
        frontReserved = false
        buffer.moveReaderIndex(forwardBy: 4)
        guard var body = buffer.readSlice(length: Int(length)) else { return nil }
        return try Self.parse(&body)
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }

    /// Parses the kind byte and body of one frame (the bytes after the length prefix).
    public static func parse(_ body: inout ByteBuffer) throws -> Frame {
        guard let kind = body.readInteger(as: UInt8.self) else { throw FrameError.empty }
        switch kind {
        case Frame.helloKind:
            guard body.readableBytes == 6, body.readBytes(length: 4) == Frame.magic,
                let id = body.readInteger(as: UInt8.self), let version = body.readInteger(as: UInt8.self)
            else { throw FrameError.badHello }
            return .hello(protocolId: id, version: version)
        case Frame.dataKind:
            return .data(body)
        case Frame.errorKind:
            guard let code = body.readInteger(as: UInt16.self), let wait = body.readInteger(as: UInt32.self) else {
                throw FrameError.badError
            }
            return .error(
                code: code, message: body.readString(length: body.readableBytes) ?? "", retryAfterMilliseconds: wait)
        case Frame.endKind:
            return .end
        default:
            throw FrameError.unknownKind(kind)
        }
    }
}

/// Writes frames with their length prefix.
public struct FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = Frame

    /// Creates an encoder.
    public init() {}

    public func encode(data: Frame, out: inout ByteBuffer) {
        let lengthIndex = out.writerIndex
        out.writeInteger(UInt32(0))
        let start = out.writerIndex
        switch data {
        case .hello(let id, let version):
            out.writeInteger(Frame.helloKind)
            out.writeBytes(Frame.magic)
            out.writeInteger(id)
            out.writeInteger(version)
        case .data(var body):
            out.writeInteger(Frame.dataKind)
            out.writeBuffer(&body)
        case .error(let code, let message, let wait):
            out.writeInteger(Frame.errorKind)
            out.writeInteger(code)
            out.writeInteger(wait)
            out.writeString(message)
        case .end:
            out.writeInteger(Frame.endKind)
        }
        out.setInteger(UInt32(out.writerIndex - start), at: lengthIndex)
    }
}
