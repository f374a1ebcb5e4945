import CLMDB
import StoreSyncCore

/// The archive's key indexes as of one read transaction, as the store-sync engine reads them:
/// count, XOR and keys of a key range within a topic scope.
///
/// A scope without content topics reads the pubsub topics' own trees; one with content topics
/// reads the tree of each (content topic, pubsub topic) pair, so a call costs one descent per
/// tree and range end, never a scan of the range, whatever the share of the scope in it.
///
/// Valid only inside the `MessageStore.withXorSnapshot` call that made it.
public final class XorIndexSnapshot: XorRangeStorage {
    private let txn: LMDBTransaction
    private let store: MessageStore
    /// A key-only index read whatever the scope, when the snapshot is of one.
    private let keyIndex: KeyIndexSnapshot?

    init(txn: LMDBTransaction, store: MessageStore, keyIndex: ScopeRecord?? = nil) {
        self.txn = txn
        self.store = store
        self.keyIndex = keyIndex.map { KeyIndexSnapshot(txn: txn, nodes: store.databases.nodes, record: $0) }
    }

    /// The scope asked about last and its trees, resolved once: an engine asks about one scope
    /// throughout.
    private var last: (scope: SyncScope, trees: [KeyIndexSnapshot])?

    private func trees(of scope: SyncScope) throws -> [KeyIndexSnapshot] {
        if let last, last.scope == scope { return last.trees }
        let resolved = try resolve(scope)
        last = (scope, resolved)
        return resolved
    }

    private func resolve(_ scope: SyncScope) throws -> [KeyIndexSnapshot] {
        if let keyIndex { return [keyIndex] }
        let databases = store.databases
        let pubsubTopics = scope.pubsubTopics.isEmpty ? try store.pubsubTopics(txn) : Array(Set(scope.pubsubTopics))
        var records: [ScopeRecord] = []
        for pubsubTopic in pubsubTopics {
            if scope.contentTopics.isEmpty {
                if let record = try store.scopeRecord(txn, pubsubTopic: pubsubTopic) { records.append(record) }
                continue
            }
            for contentTopic in Set(scope.contentTopics) {
                guard
                    let record = try store.contentTopicRecord(txn, contentTopic: contentTopic, pubsubTopic: pubsubTopic)
                else { continue }
                records.append(record)
            }
        }
        return records.map { KeyIndexSnapshot(txn: txn, nodes: databases.nodes, record: $0) }
    }

    public func count(from lower: SyncKey, through upper: SyncKey, in scope: SyncScope) throws -> Int {
        guard lower <= upper else { return 0 }
        var total = 0
        for tree in try trees(of: scope) {
            total += try tree.prefix(before: upper, including: true).count
            total -= try tree.prefix(before: lower, including: false).count
        }
        return total
    }

    public func xor(from lower: SyncKey, through upper: SyncKey, in scope: SyncScope) throws -> MessageHash {
        guard lower <= upper else { return .zero }
        var result = MessageHash.zero
        for tree in try trees(of: scope) {
            result = result.xor(try tree.prefix(before: upper, including: true).xor)
            result = result.xor(try tree.prefix(before: lower, including: false).xor)
        }
        return result
    }

    public func keys(from lower: SyncKey, through upper: SyncKey, in scope: SyncScope, limit: Int) throws
        -> [SyncKey]
    {
        guard lower <= upper, limit > 0 else { return [] }
        let trees = try trees(of: scope)
        var keys: [SyncKey] = []
        for tree in trees {
            let start = try tree.prefix(before: lower, including: false).count
            let end = try tree.prefix(before: upper, including: true).count
            keys.reserveCapacity(keys.count + min(end - start, limit))
            try tree.forEachKey(in: start..<min(end, start + limit)) { key in
                keys.append(key)
                return true
            }
        }
        // One tree's keys come in order; several trees' are merged.
        guard trees.count > 1 else { return keys }
        keys.sort()
        return Array(keys.prefix(limit))
    }
}

extension MessageStore {
    /// Runs `body` with the archive's key indexes as the store-sync engine reads them, as of one
    /// read transaction.
    public func withXorSnapshot<T>(_ body: (XorIndexSnapshot) throws -> T) throws -> T {
        try environment.read { txn in try body(XorIndexSnapshot(txn: txn, store: self)) }
    }

    /// Runs `body` with a key-only index as the store-sync engine reads it, one tree whatever
    /// the scope: for indexes kept beside another archive, and benchmarks.
    public func withXorSnapshot<T>(keyIndex name: String, _ body: (XorIndexSnapshot) throws -> T) throws -> T {
        try environment.read { txn in
            let record = try TreeWriters.record(txn, databases, ScopeKey.keyIndex(name))
            return try body(XorIndexSnapshot(txn: txn, store: self, keyIndex: .some(record)))
        }
    }
}
