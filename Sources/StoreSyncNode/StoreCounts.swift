import NIOCore
import StoreSyncCore

/// How many messages of a batch were stored, were already there, or were refused.
public struct StoreCounts: Equatable, Sendable {
    public var stored = 0
    public var duplicates = 0
    public var rejected = 0

    public init(stored: Int = 0, duplicates: Int = 0, rejected: Int = 0) {
        self.stored = stored
        self.duplicates = duplicates
        self.rejected = rejected
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(stored))
        buffer.writeInteger(UInt32(duplicates))
        buffer.writeInteger(UInt32(rejected))
    }

    public init(decoding buffer: inout ByteBuffer) throws(ProtocolError) {
        guard let stored = buffer.readInteger(as: UInt32.self), let duplicates = buffer.readInteger(as: UInt32.self),
            let rejected = buffer.readInteger(as: UInt32.self)
        else { throw .bad("counts truncated") }
        self.init(stored: Int(stored), duplicates: Int(duplicates), rejected: Int(rejected))
    }

    public static func + (lhs: StoreCounts, rhs: StoreCounts) -> StoreCounts {
        StoreCounts(
            stored: lhs.stored + rhs.stored, duplicates: lhs.duplicates + rhs.duplicates,
            rejected: lhs.rejected + rhs.rejected)
    }
}
