import CLMDB
import StoreSyncCore

/// Brings a store written by an earlier format up to the current one, inside the write
/// transaction that opens it: the new format record is written in the same transaction, so a
/// crash leaves the store as it was and the upgrade runs again at the next open; once committed
/// it never runs again.
enum FormatUpgrade {
    static let formatOne = "storesync-lmdb/1"
    static let formatTwo = "storesync-lmdb/2"
    /// The content-topic index of formats 1 and 2: an entry per message, keyed by scope id,
    /// content topic id and key, which the content-topic trees of format 2 made redundant.
    static let contentIndexName = "by_content"

    /// Keys of the content-topic index taken per step while building the content-topic trees, so
    /// that memory stays bounded whatever the archive's size.
    static let chunk = 65_536

    /// Format 1 to 2: internal entries gain the XOR of their keys' hashes (and are at most 16 a
    /// node, to stay within a page), and every (content topic, pubsub topic) pair gets a tree
    /// of its own, built from the content-topic index.
    static func fromFormatOne(
        _ txn: LMDBTransaction, _ databases: LMDBEnvironment.Databases, contentIndex: MDB_dbi
    ) throws {
        var scopes: [(key: [UInt8], record: ScopeRecord)] = []
        try txn.scan(databases.scopes, from: []) { key, value in
            let name = String(decoding: key.dropFirst(), as: UTF8.self)
            scopes.append((Array(key), try ScopeRecord(decoding: value, scope: name)))
            return true
        }
        for (key, record) in scopes {
            let rebuilt = try rebuildInternalLevels(txn, databases, record)
            if rebuilt != record { try txn.put(databases.scopes, key, rebuilt.encoded()) }
        }
        for (key, record) in scopes where key.first == ScopeKey.messagesKind {
            try buildContentTopicTrees(
                txn, databases, contentIndex: contentIndex,
                pubsubTopic: String(decoding: key.dropFirst(), as: UTF8.self), scopeId: record.scopeId)
        }
    }

    /// Format 2 to 3: the content-topic index goes (queries by content topic read the
    /// content-topic trees), its pages back to the free list.
    static func fromFormatTwo(_ txn: LMDBTransaction, contentIndex: MDB_dbi) throws {
        try StoreError.check(mdb_drop(txn.pointer, contentIndex, 1), "drop database \(contentIndexName)")
    }

    /// Keeps a tree's leaves (their layout did not change) and writes its internal levels anew.
    private static func rebuildInternalLevels(
        _ txn: LMDBTransaction, _ databases: LMDBEnvironment.Databases, _ record: ScopeRecord
    ) throws -> ScopeRecord {
        guard record.height > 1 else { return record }
        var leaves: [UInt64] = []
        var internals: [UInt64] = []
        try collect(txn, databases, record, node: record.root, depth: 1, leaves: &leaves, internals: &internals)
        var level: [ChildEntry] = []
        level.reserveCapacity(leaves.count)
        for id in leaves {
            let entry = try withNodeKey(scope: record.scopeId, node: id) { key -> ChildEntry? in
                guard let raw = try txn.get(databases.nodes, key) else { throw missing(id, record) }
                let view = try NodeView(raw, id: id)
                return MutableNode(leaf: (0..<view.count).map(view.key(at:))).entry(id: id)
            }
            guard let entry else {
                throw StoreError.corruptRecord(what: "tree node \(id) of scope \(record.scopeId)", detail: "empty leaf")
            }
            level.append(entry)
        }
        for id in internals {
            try withNodeKey(scope: record.scopeId, node: id) { key in _ = try txn.delete(databases.nodes, key) }
        }
        var rebuilt = record
        rebuilt.height = 1
        while level.count > 1 {
            var parents: [ChildEntry] = []
            for start in stride(from: 0, to: level.count, by: TreeLayout.maximumInternalEntries) {
                let node = MutableNode(
                    branch: Array(level[start..<min(start + TreeLayout.maximumInternalEntries, level.count)]))
                let id = rebuilt.nextNodeId
                rebuilt.nextNodeId += 1
                try withNodeKey(scope: record.scopeId, node: id) { key in
                    try txn.putReserved(databases.nodes, key, size: node.encodedSize) { node.encode(into: $0) }
                }
                if let entry = node.entry(id: id) { parents.append(entry) }
            }
            level = parents
            rebuilt.height += 1
        }
        rebuilt.root = level.first?.child ?? record.root
        return rebuilt
    }

    /// The leaves of a format-1 tree in key order, and its internal nodes.
    private static func collect(
        _ txn: LMDBTransaction, _ databases: LMDBEnvironment.Databases, _ record: ScopeRecord, node id: UInt64,
        depth: UInt32, leaves: inout [UInt64], internals: inout [UInt64]
    ) throws {
        if depth == record.height {
            leaves.append(id)
            return
        }
        let children = try withNodeKey(scope: record.scopeId, node: id) { key -> [UInt64] in
            guard let raw = try txn.get(databases.nodes, key) else { throw missing(id, record) }
            let count = raw.count >= TreeLayout.headerSize ? Int(raw.loadBigEndianUInt32(at: 4)) : -1
            guard raw.count >= TreeLayout.headerSize, raw[0] == TreeLayout.internalKind,
                raw.count == TreeLayout.headerSize + count * TreeLayout.formatOneEntrySize
            else {
                throw StoreError.corruptRecord(
                    what: "tree node \(id) of scope \(record.scopeId)", detail: "not an internal node of format 1")
            }
            return (0..<count).map {
                raw.loadBigEndianUInt64(at: TreeLayout.headerSize + $0 * TreeLayout.formatOneEntrySize + 40)
            }
        }
        internals.append(id)
        for child in children {
            try collect(txn, databases, record, node: child, depth: depth + 1, leaves: &leaves, internals: &internals)
        }
    }

    /// Fills the trees of each content topic of a pubsub topic from its content-topic index
    /// entries, which come in (content topic, key) order, so every tree is built by appending.
    private static func buildContentTopicTrees(
        _ txn: LMDBTransaction, _ databases: LMDBEnvironment.Databases, contentIndex: MDB_dbi, pubsubTopic: String,
        scopeId: UInt32
    ) throws {
        var start: [UInt8] = []
        start.appendBigEndian(scopeId)
        var resumeAfter: [UInt8]?
        while true {
            var entries: [(contentTopic: UInt32, key: SyncKey)] = []
            var last: [UInt8]?
            try txn.scan(contentIndex, from: resumeAfter ?? start) { raw, _ in
                guard let entry = contentIndexEntry(raw, scope: scopeId) else { return false }
                if let resumeAfter, raw.elementsEqual(resumeAfter) { return true }
                entries.append(entry)
                last = Array(raw)
                return entries.count < chunk
            }
            let writers = TreeWriters(txn: txn, databases: databases)
            for (contentTopic, key) in entries {
                _ = try writers.writer(ScopeKey.contentTopic(contentTopic, pubsubTopic: pubsubTopic)).insert(key)
            }
            try writers.finish()
            guard entries.count == chunk, let last else { return }
            resumeAfter = last
        }
    }

    /// The content topic id and key of a content-index entry of `scope`; nil for an entry of
    /// another scope.
    private static func contentIndexEntry(_ raw: UnsafeRawBufferPointer, scope: UInt32) -> (
        contentTopic: UInt32, key: SyncKey
    )? {
        guard raw.count == 48, raw.loadBigEndianUInt32(at: 0) == scope else { return nil }
        return (raw.loadBigEndianUInt32(at: 4), NodeView.key(in: raw, at: 8))
    }

    private static func missing(_ id: UInt64, _ record: ScopeRecord) -> StoreError {
        .corruptRecord(what: "tree node \(id) of scope \(record.scopeId)", detail: "missing")
    }
}
