/// Keys with their topics in a sorted array: the store-sync engine's storage for tests,
/// simulations and embedders that keep a small window in memory. Each call scans the range, as
/// the reference node's own storage does; the LMDB index answers the same calls without a scan.
public struct MemoryXorStorage: XorRangeStorage, Sendable {
    /// A key and the topics of its message.
    public typealias Entry = IndexedKey

    /// Entries in key order, without repeats.
    public private(set) var entries: [Entry] = []

    public init(_ entries: [Entry] = []) {
        var unique: [SyncKey: Entry] = [:]
        for entry in entries { unique[entry.key] = entry }
        self.entries = unique.values.sorted { $0.key < $1.key }
    }

    /// Adds an entry; a key already held is kept as it is.
    public mutating func insert(_ entry: Entry) {
        let index = firstIndex(in: entries.indices) { entries[$0].key >= entry.key }
        guard index == entries.count || entries[index].key != entry.key else { return }
        entries.insert(entry, at: index)
    }

    private func slice(from lower: SyncKey, through upper: SyncKey) -> ArraySlice<Entry> {
        guard lower <= upper else { return [] }
        let first = firstIndex(in: entries.indices) { entries[$0].key >= lower }
        let end = firstIndex(in: entries.indices) { entries[$0].key > upper }
        return entries[first..<max(first, end)]
    }

    public func count(from lower: SyncKey, through upper: SyncKey, in scope: SyncScope) -> Int {
        slice(from: lower, through: upper).count {
            scope.admits(pubsubTopic: $0.pubsubTopic, contentTopic: $0.contentTopic)
        }
    }

    public func xor(from lower: SyncKey, through upper: SyncKey, in scope: SyncScope) -> MessageHash {
        var result = MessageHash.zero
        for entry in slice(from: lower, through: upper)
        where scope.admits(pubsubTopic: entry.pubsubTopic, contentTopic: entry.contentTopic) {
            result = result.xor(entry.key.hash)
        }
        return result
    }

    public func keys(from lower: SyncKey, through upper: SyncKey, in scope: SyncScope, limit: Int) -> [SyncKey] {
        Array(
            slice(from: lower, through: upper).lazy
                .filter { scope.admits(pubsubTopic: $0.pubsubTopic, contentTopic: $0.contentTopic) }
                .map(\.key)
                .prefix(limit))
    }
}
