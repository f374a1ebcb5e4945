import NIOCore
import StoreSyncCore
import StoreSyncLMDB

/// What became of the messages of a batch handed to a node: stored, already there, refused,
/// stored and at once deleted by the count cap (older than all the node keeps), or not stored
/// for want of room now (worth sending again later).
public struct StoreCounts: Equatable, Sendable {
    public var stored = 0
    public var duplicates = 0
    public var rejected = 0
    public var evicted = 0
    public var unavailable = 0

    public init(stored: Int = 0, duplicates: Int = 0, rejected: Int = 0, evicted: Int = 0, unavailable: Int = 0) {
        self.stored = stored
        self.duplicates = duplicates
        self.rejected = rejected
        self.evicted = evicted
        self.unavailable = unavailable
    }

    /// Counts one store outcome.
    public mutating func count(_ outcome: MessageStore.Outcome) {
        switch outcome {
        case .stored: stored += 1
        case .duplicate: duplicates += 1
        case .ephemeral, .rejected: rejected += 1
        case .evicted: evicted += 1
        case .unavailable: unavailable += 1
        }
    }

    public func encode(into buffer: inout ByteBuffer) {
        for value in [stored, duplicates, rejected, evicted, unavailable] {
            buffer.writeInteger(UInt32(clamping: value))
        }
    }

    public init(decoding buffer: inout ByteBuffer) throws(ProtocolError) {
        var values = [Int]()
        for _ in 0..<5 {
            guard let value = buffer.readInteger(as: UInt32.self) else { throw .bad("counts truncated") }
            values.append(Int(value))
        }
        self.init(
            stored: values[0], duplicates: values[1], rejected: values[2], evicted: values[3], unavailable: values[4])
    }

    public static func + (lhs: StoreCounts, rhs: StoreCounts) -> StoreCounts {
        StoreCounts(
            stored: lhs.stored + rhs.stored, duplicates: lhs.duplicates + rhs.duplicates,
            rejected: lhs.rejected + rhs.rejected, evicted: lhs.evicted + rhs.evicted,
            unavailable: lhs.unavailable + rhs.unavailable)
    }
}
