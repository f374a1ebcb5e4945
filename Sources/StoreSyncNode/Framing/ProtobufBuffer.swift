import NIOCore
import SwiftProtobuf

/// A `ByteBuffer` as swift-protobuf's bag of bytes: messages decode from the buffers the
/// transport delivers and encode into buffers it sends, without a pass through an array. Fetch
/// replies are megabytes; each copy saved is one pass over them.
struct ProtobufBuffer: SwiftProtobufContiguousBytes {
    var buffer: ByteBuffer

    init(_ buffer: ByteBuffer) {
        self.buffer = buffer
    }

    init(repeating: UInt8, count: Int) {
        buffer = ByteBuffer(repeating: repeating, count: count)
    }

    init<S: Sequence>(_ sequence: S) where S.Element == UInt8 {
        buffer = ByteBuffer(bytes: sequence)
    }

    var count: Int { buffer.readableBytes }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeReadableBytes(body)
    }

    mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeMutableReadableBytes(body)
    }
}

extension SwiftProtobuf.Message {
    /// Decodes the readable bytes of `buffer`.
    init(buffer: ByteBuffer) throws {
        try self.init(serializedBytes: ProtobufBuffer(buffer))
    }

    /// The binary encoding, in a buffer to send.
    func serializedBuffer() throws -> ByteBuffer {
        try (serializedBytes() as ProtobufBuffer).buffer
    }
}
