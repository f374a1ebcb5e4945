import CLMDB
import StoreSyncCore

/// Builds one scope's counted B+tree bottom up from keys given in ascending order, for a scope
/// that has no tree yet. Each node is handed to `SpilledNodes` once, full, when its level's next
/// entry no longer fits; the open node of every level stays in memory until `finish`. A tree
/// built this way has the shape `TreeWriter` gives a tree grown by appending, without a descent
/// or a split per key.
/// A value: a copy taken before a write transaction is what to start from again if LMDB runs
/// the transaction again (after growing the map).
struct TreeBuilder {
    let scopeId: UInt32
    private var nextNodeId: UInt64 = 1
    private var leaf: [SyncKey] = []
    /// The open internal node of each level above the leaves (the first is the leaves' parent).
    private var levels: [[ChildEntry]] = []
    /// The greatest key appended.
    private(set) var lastKey: SyncKey?
    /// Keys appended.
    private(set) var count = 0

    init(scopeId: UInt32) {
        self.scopeId = scopeId
        leaf.reserveCapacity(TreeLayout.maximumLeafKeys)
    }

    /// Appends a key greater than every key appended before.
    mutating func append(_ key: SyncKey, into nodes: SpilledNodes) throws {
        if let lastKey, !(lastKey < key) {
            throw StoreError.invalidRequest("bulk load of scope \(scopeId): key \(key) after \(lastKey)")
        }
        lastKey = key
        count += 1
        if leaf.count == TreeLayout.maximumLeafKeys {
            try push(try write(MutableNode(leaf: leaf), nodes), level: 0, nodes)
            leaf.removeAll(keepingCapacity: true)
        }
        leaf.append(key)
    }

    /// Hands over the open nodes of every level and returns the scope's record.
    mutating func finish(into nodes: SpilledNodes) throws -> ScopeRecord {
        let last = try write(MutableNode(leaf: leaf), nodes)
        leaf = []
        guard count > 0 else {
            return ScopeRecord(scopeId: scopeId, height: 1, root: last.child, nextNodeId: nextNodeId)
        }
        try push(last, level: 0, nodes)
        var level = 0
        while true {
            // A highest level of one entry names the root; every other open node is written
            // and named one level up.
            if level == levels.count - 1 && levels[level].count == 1 {
                let root = levels[level][0].child
                levels = []
                return ScopeRecord(scopeId: scopeId, height: UInt32(level + 1), root: root, nextNodeId: nextNodeId)
            }
            let node = try write(MutableNode(branch: levels[level]), nodes)
            levels[level] = []
            try push(node, level: level + 1, nodes)
            level += 1
        }
    }

    /// Adds a finished node's entry to the open node of `level`, finishing that node first when
    /// it is full.
    private mutating func push(_ entry: ChildEntry, level: Int, _ nodes: SpilledNodes) throws {
        if level == levels.count {
            levels.append([])
            levels[level].reserveCapacity(TreeLayout.maximumInternalEntries)
        }
        if levels[level].count == TreeLayout.maximumInternalEntries {
            let full = try write(MutableNode(branch: levels[level]), nodes)
            levels[level].removeAll(keepingCapacity: true)
            try push(full, level: level + 1, nodes)
        }
        levels[level].append(entry)
    }

    /// Hands over a node under the next id; returns the entry its parent holds for it.
    private mutating func write(_ node: MutableNode, _ nodes: SpilledNodes) throws -> ChildEntry {
        let id = nextNodeId
        nextNodeId += 1
        try nodes.put(node, scope: scopeId, id: id)
        // An empty node is only ever the root of an empty tree; its entry is never read.
        return node.entry(id: id)
            ?? ChildEntry(firstKey: SyncKey(timestamp: 0), child: id, count: 0, sum: Accumulator(), xor: .zero)
    }
}
