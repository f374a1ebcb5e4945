/// The upper end of a range on the wire: a timestamp and a prefix of an id, the omitted id bytes
/// being zero. A range covers the keys from the previous bound (inclusive) to this one
/// (exclusive).
public struct Bound: Hashable, Sendable {
    /// The key the bound stands for, its id zero beyond `prefixLength`.
    public var key: SyncKey
    /// How many leading id bytes are sent on the wire (0...32).
    public var prefixLength: Int

    /// Creates a bound from a timestamp and an id prefix; the prefix must be at most 32 bytes.
    public init(timestamp: UInt64, prefix: some Collection<UInt8> = [UInt8]()) {
        precondition(prefix.count <= 32, "a bound's prefix is at most 32 bytes")
        var padded = Array(prefix)
        padded.append(contentsOf: repeatElement(0, count: 32 - padded.count))
        self.key = SyncKey(timestamp: timestamp, hash: padded.withUnsafeBytes { MessageHash($0) })
        self.prefixLength = prefix.count
    }

    /// The bound that is exactly a key, all 32 id bytes sent.
    public init(key: SyncKey) {
        self.key = key
        self.prefixLength = 32
    }

    init(key: SyncKey, prefixLength: Int) {
        self.key = key
        self.prefixLength = prefixLength
    }

    /// The lowest bound, where the first range of a message starts.
    public static let zero = Bound(key: SyncKey(timestamp: 0), prefixLength: 0)

    /// The bound above every key, which ends the last range of a message.
    public static let infinity = Bound(key: SyncKey(timestamp: .max), prefixLength: 0)

    /// The shortest bound that is above `previous` and at most `next`: the timestamp of `next`
    /// alone when the timestamps differ, else the id prefix of `next` one byte past the bytes the
    /// two share.
    public static func minimal(between previous: SyncKey, and next: SyncKey) -> Bound {
        if previous.timestamp != next.timestamp {
            return Bound(key: SyncKey(timestamp: next.timestamp), prefixLength: 0)
        }
        let length = min(previous.hash.sharedPrefixLength(with: next.hash) + 1, 32)
        return Bound(
            key: SyncKey(timestamp: next.timestamp, hash: next.hash.keepingPrefix(length)), prefixLength: length)
    }

    /// The id bytes sent on the wire.
    public var prefix: [UInt8] { Array(key.hash.bytes.prefix(prefixLength)) }
}
