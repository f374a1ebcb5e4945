/// The key of a message in the sync index: its timestamp in nanoseconds, then its hash.
///
/// Keys order by timestamp first and hash bytes second, so that a time window is a contiguous
/// key range and two nodes holding the same messages hold the same sequence of keys.
public struct SyncKey: Hashable, Comparable, Sendable {
    /// Nanoseconds since the Unix epoch.
    public var timestamp: UInt64
    /// The message hash.
    public var hash: MessageHash

    /// Creates a key.
    public init(timestamp: UInt64, hash: MessageHash) {
        self.timestamp = timestamp
        self.hash = hash
    }

    /// The lowest key at a timestamp.
    public init(timestamp: UInt64) {
        self.init(timestamp: timestamp, hash: .zero)
    }

    /// The first timestamp all of whose keys are at or above this key: where a window of
    /// timestamps starts that holds nothing below it.
    public var firstWholeTimestamp: UInt64 {
        hash == .zero ? timestamp : timestamp + 1
    }

    @inlinable
    public static func < (lhs: SyncKey, rhs: SyncKey) -> Bool {
        if lhs.timestamp != rhs.timestamp { return lhs.timestamp < rhs.timestamp }
        return lhs.hash < rhs.hash
    }
}

extension SyncKey: CustomStringConvertible {
    public var description: String { "\(timestamp):\(hash.hex)" }
}
