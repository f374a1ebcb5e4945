import CLMDB
import StoreSyncCore

/// A broken invariant of the store, found by `_checkInvariants()`.
public struct InvariantViolation: Error, CustomStringConvertible {
    /// What is wrong, and where.
    public let description: String
}

extension MessageStore {
    /// Recomputes every count and sum of every key index from its leaves and checks the archive
    /// against the indexes: keys strictly ascending, leaves all at the tree's height, no node
    /// over- or under-full beyond what removal allows, no unreachable node, every indexed key a
    /// stored message with that hash, timestamp and topic, every message indexed once, and no
    /// database but those of the current format. Throws `InvariantViolation` naming the first
    /// problem found.
    public func _checkInvariants() throws {
        try environment.read { txn in
            var names: [String] = []
            try txn.scan(LMDBEnvironment.mainDatabase, from: []) { key, _ in
                names.append(String(decoding: key, as: UTF8.self))
                return true
            }
            guard names.sorted() == LMDBEnvironment.databaseNames.sorted() else {
                throw InvariantViolation(description: "databases \(names.sorted()), not those of the format")
            }
            var scopes: [(kind: UInt8, contentTopicId: UInt32?, name: String, record: ScopeRecord)] = []
            try txn.scan(environment.databases.scopes, from: []) { key, value in
                guard let (kind, contentTopicId, name) = ScopeKey.parse(Array(key)) else {
                    throw InvariantViolation(description: "an empty scope key")
                }
                scopes.append((kind, contentTopicId, name, try ScopeRecord(decoding: value, scope: name)))
                return true
            }
            let contentTopics = try contentTopicIds(txn)
            var reachable = 0
            var indexedMessages = 0
            var indexedByContentTopic = 0
            for scope in scopes {
                var checker = TreeChecker(txn: txn, nodes: environment.databases.nodes, record: scope.record)
                let summary = try checker.check()
                reachable += checker.visited
                switch scope.kind {
                case ScopeKey.messagesKind:
                    indexedMessages += summary.count
                    try checkArchive(txn, topic: scope.name, record: scope.record, contentTopics: contentTopics)
                case ScopeKey.contentTopicKind:
                    guard let id = scope.contentTopicId, contentTopics[id] != nil else {
                        throw InvariantViolation(
                            description: "scope \(scope.record.scopeId) of an unknown content topic")
                    }
                    indexedByContentTopic += summary.count
                    try checkContentTopicTree(
                        txn, pubsubTopic: scope.name, contentTopicId: id, record: scope.record)
                case ScopeKey.keyIndexKind:
                    break
                default:
                    throw InvariantViolation(description: "scope \(scope.record.scopeId) of unknown kind \(scope.kind)")
                }
            }
            let nodeCount = try txn.entries(environment.databases.nodes)
            guard nodeCount == reachable else {
                throw InvariantViolation(description: "\(nodeCount) tree nodes stored, \(reachable) reachable")
            }
            let messages = try txn.entries(environment.databases.messages)
            guard messages == indexedMessages else {
                throw InvariantViolation(description: "\(messages) messages stored, \(indexedMessages) indexed")
            }
            guard indexedByContentTopic == messages else {
                throw InvariantViolation(
                    description: "\(indexedByContentTopic) keys in content-topic trees for \(messages) messages")
            }
        }
    }

    /// The content topic of each id.
    private func contentTopicIds(_ txn: LMDBTransaction) throws -> [UInt32: String] {
        var ids: [UInt32: String] = [:]
        try txn.scan(environment.databases.contentTopics, from: []) { key, value in
            guard let id = Self.bigEndianUInt32(Array(value)) else {
                throw InvariantViolation(description: "content topic id of \(value.count) bytes")
            }
            ids[id] = String(decoding: key, as: UTF8.self)
            return true
        }
        return ids
    }

    /// Every key of a (content topic, pubsub topic) tree is a message of those topics.
    private func checkContentTopicTree(
        _ txn: LMDBTransaction, pubsubTopic: String, contentTopicId: UInt32, record: ScopeRecord
    ) throws {
        let snapshot = KeyIndexSnapshot(txn: txn, nodes: environment.databases.nodes, record: record)
        let pubsubScope = try scopeRecord(txn, pubsubTopic: pubsubTopic)?.scopeId
        var failure: InvariantViolation?
        try snapshot.forEachKey(in: 0..<snapshot.count()) { key in
            let stored = try key.hash.bytes.withUnsafeBytes { try txn.get(environment.databases.messages, $0) }
            guard let stored else {
                failure = InvariantViolation(description: "key \(key) of a content-topic tree has no message")
                return false
            }
            let ids = try topicIds(txn, of: try StoredRecord(stored))
            guard pubsubScope != nil, ids.pubsubScope == pubsubScope, ids.contentTopicId == contentTopicId else {
                failure = InvariantViolation(
                    description: "message \(key) in the tree of content topic \(contentTopicId) on \(pubsubTopic) "
                        + "has other topics")
                return false
            }
            return true
        }
        if let failure { throw failure }
    }

    /// The scope id of a record's pubsub topic tree and its content topic id, nil where the
    /// store holds none for the name.
    private func topicIds(_ txn: LMDBTransaction, of record: StoredRecord) throws -> (
        pubsubScope: UInt32?, contentTopicId: UInt32?
    ) {
        switch record.topics {
        case .named(let pubsubTopic, let contentTopic):
            (
                try scopeRecord(txn, pubsubTopic: pubsubTopic)?.scopeId,
                try storedContentTopicId(txn, topic: contentTopic)
            )
        case .byId(let pubsubScope, let contentTopicId): (pubsubScope, contentTopicId)
        }
    }

    private func checkArchive(
        _ txn: LMDBTransaction, topic: String, record: ScopeRecord, contentTopics: [UInt32: String]
    ) throws {
        let snapshot = KeyIndexSnapshot(txn: txn, nodes: environment.databases.nodes, record: record)
        let hasher = SHA256Hasher()
        var failure: InvariantViolation?
        try snapshot.forEachKey(in: 0..<snapshot.count()) { key in
            let stored = try key.hash.bytes.withUnsafeBytes { try txn.get(environment.databases.messages, $0) }
            guard let stored else {
                failure = InvariantViolation(description: "key \(key) of \(topic) has no message")
                return false
            }
            let entry = try StoredRecord(stored)
            let hashMatches: Bool
            if case .message(let message) = entry {
                hashMatches = message.hash(using: hasher) == key.hash
            } else {
                hashMatches = true
            }
            let ids = try topicIds(txn, of: entry)
            guard ids.pubsubScope == record.scopeId, entry.timestamp == key.timestamp, hashMatches else {
                failure = InvariantViolation(description: "message under key \(key) of \(topic) does not match it")
                return false
            }
            guard let contentTopicId = ids.contentTopicId, contentTopics[contentTopicId] != nil else {
                failure = InvariantViolation(description: "content topic of \(key) has no id")
                return false
            }
            return true
        }
        if let failure { throw failure }
    }
}

/// Walks one tree from its root, recomputing what every parent says of its children.
private struct TreeChecker {
    let txn: LMDBTransaction
    let nodes: MDB_dbi
    let record: ScopeRecord
    var visited = 0
    var previousKey: SyncKey?

    init(txn: LMDBTransaction, nodes: MDB_dbi, record: ScopeRecord) {
        self.txn = txn
        self.nodes = nodes
        self.record = record
    }

    struct Summary {
        var count = 0
        var sum = Accumulator()
        var xor = MessageHash.zero
        var firstKey: SyncKey?
    }

    mutating func check() throws -> Summary {
        guard record.height >= 1 else { throw InvariantViolation(description: "scope \(record.scopeId): height 0") }
        guard record.root < record.nextNodeId else {
            throw InvariantViolation(description: "scope \(record.scopeId): root id beyond the id counter")
        }
        return try subtree(record.root, depth: 1, isRoot: true)
    }

    private mutating func subtree(_ id: UInt64, depth: UInt32, isRoot: Bool) throws -> Summary {
        visited += 1
        let location = "scope \(record.scopeId) node \(id)"
        let view = try withNodeKey(scope: record.scopeId, node: id) { key -> NodeView in
            guard let raw = try txn.get(nodes, key) else {
                throw InvariantViolation(description: "\(location) missing")
            }
            return try NodeView(raw, id: id)
        }
        if !isRoot && view.count == 0 { throw InvariantViolation(description: "\(location) is empty") }
        var summary = Summary()
        if view.isLeaf {
            guard depth == record.height else {
                throw InvariantViolation(description: "\(location): leaf at depth \(depth), height \(record.height)")
            }
            guard view.count <= TreeLayout.maximumLeafKeys else {
                throw InvariantViolation(description: "\(location): \(view.count) keys, over the maximum")
            }
            for index in 0..<view.count {
                let key = view.key(at: index)
                if let previousKey, !(previousKey < key) {
                    throw InvariantViolation(description: "\(location): key \(key) not above \(previousKey)")
                }
                previousKey = key
                summary.count += 1
                summary.sum.add(key.hash)
                summary.xor = summary.xor.xor(key.hash)
                if summary.firstKey == nil { summary.firstKey = key }
            }
            return summary
        }
        guard depth < record.height else {
            throw InvariantViolation(
                description: "\(location): internal node at depth \(depth), height \(record.height)")
        }
        guard view.count <= TreeLayout.maximumInternalEntries, !isRoot || view.count >= 2 else {
            throw InvariantViolation(description: "\(location): \(view.count) entries")
        }
        for index in 0..<view.count {
            let entry = view.entry(at: index)
            let child = try subtree(entry.child, depth: depth + 1, isRoot: false)
            guard child.count == Int(entry.count), child.sum == entry.sum, child.xor == entry.xor,
                child.firstKey == entry.firstKey
            else {
                throw InvariantViolation(
                    description: "\(location) entry \(index): says \(entry.count) keys from \(entry.firstKey), "
                        + "child has \(child.count) from \(child.firstKey.map { "\($0)" } ?? "none") (or sums or XORs differ)"
                )
            }
            summary.count += child.count
            summary.sum.add(child.sum)
            summary.xor = summary.xor.xor(child.xor)
            if summary.firstKey == nil { summary.firstKey = child.firstKey }
        }
        return summary
    }
}
