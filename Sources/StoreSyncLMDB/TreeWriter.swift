import CLMDB
import StoreSyncCore

/// Changes one scope's counted B+tree inside a write transaction.
///
/// Nodes are decoded once into memory, changed there, and written back once by `flush()`, so a
/// batch of inserts into the same leaves costs one write per touched node, not one per key.
/// Every change keeps each parent's count, sum and XOR of its children exact.
final class TreeWriter {
    private let txn: LMDBTransaction
    private let nodesDatabase: MDB_dbi
    private(set) var record: ScopeRecord
    private var loaded: [UInt64: MutableNode] = [:]
    private var dirty: Set<UInt64> = []
    private var deleted: Set<UInt64> = []

    /// The record as read at the start of the transaction, nil for a new scope.
    let originalRecord: ScopeRecord?

    init(txn: LMDBTransaction, nodes: MDB_dbi, record: ScopeRecord, isNew: Bool = false) {
        self.txn = txn
        self.nodesDatabase = nodes
        self.record = record
        self.originalRecord = isNew ? nil : record
    }

    /// A new, empty tree's record (its root leaf is written by `flush()`).
    static func emptyRecord(scopeId: UInt32) -> ScopeRecord {
        ScopeRecord(scopeId: scopeId, height: 1, root: 1, nextNodeId: 2)
    }

    func createEmptyRoot() {
        let root = MutableNode(leaf: [])
        loaded[record.root] = root
        dirty.insert(record.root)
    }

    private func node(_ id: UInt64) throws -> MutableNode {
        if let node = loaded[id] { return node }
        let node = try withNodeKey(scope: record.scopeId, node: id) { key in
            guard let raw = try txn.get(nodesDatabase, key) else {
                throw StoreError.corruptRecord(what: "tree node \(id) of scope \(record.scopeId)", detail: "missing")
            }
            return try MutableNode.decode(raw, id: id)
        }
        loaded[id] = node
        return node
    }

    private func allocate(_ node: MutableNode) -> UInt64 {
        let id = record.nextNodeId
        record.nextNodeId += 1
        loaded[id] = node
        dirty.insert(id)
        return id
    }

    private func release(_ id: UInt64) {
        loaded[id] = nil
        dirty.remove(id)
        deleted.insert(id)
    }

    /// The index of the child whose range holds `key`.
    private static func childIndex(for key: SyncKey, in entries: [ChildEntry]) -> Int {
        max(firstIndex(in: entries.indices) { key < entries[$0].firstKey } - 1, 0)
    }

    private static func lowerBound(of key: SyncKey, in keys: [SyncKey]) -> Int {
        firstIndex(in: keys.indices) { keys[$0] >= key }
    }

    /// One level of the last descent: the node and the index of the child taken.
    private struct Step {
        let id: UInt64
        let node: MutableNode
        let index: Int
    }

    /// The last descent, kept so that the next key of a sorted batch that falls in the same leaf
    /// needs none: valid while no split or removal has changed the tree's shape.
    private var path: [Step] = []
    private var leafId: UInt64 = 0
    private var leaf: MutableNode?
    /// The key range the cached leaf covers: `[low, high)`, nil for unbounded.
    private var leafLow: SyncKey?
    private var leafHigh: SyncKey?

    private func descend(to key: SyncKey) throws {
        if leaf != nil, leafLow.map({ !(key < $0) }) ?? true, leafHigh.map({ key < $0 }) ?? true {
            return
        }
        path.removeAll(keepingCapacity: true)
        leafLow = nil
        leafHigh = nil
        var id = record.root
        var current = try node(id)
        while !current.isLeaf {
            let index = Self.childIndex(for: key, in: current.entries)
            if index > 0 { leafLow = current.entries[index].firstKey }
            if index + 1 < current.entries.count { leafHigh = current.entries[index + 1].firstKey }
            path.append(Step(id: id, node: current, index: index))
            id = current.entries[index].child
            current = try node(id)
        }
        leafId = id
        leaf = current
    }

    private func invalidatePath() {
        leaf = nil
        path.removeAll(keepingCapacity: true)
    }

    /// Inserts a key; returns false, changing nothing, if it is already there.
    func insert(_ key: SyncKey) throws -> Bool {
        try descend(to: key)
        guard let current = leaf else { return false }
        let position = Self.lowerBound(of: key, in: current.keys)
        if position < current.keys.count && current.keys[position] == key { return false }
        current.keys.insert(key, at: position)
        dirty.insert(leafId)

        let added = Accumulator(key.hash)
        for step in path {
            step.node.entries[step.index].count += 1
            step.node.entries[step.index].sum.add(added)
            step.node.entries[step.index].xor = step.node.entries[step.index].xor.xor(key.hash)
            if key < step.node.entries[step.index].firstKey { step.node.entries[step.index].firstKey = key }
            dirty.insert(step.id)
        }
        if current.keys.count > TreeLayout.maximumLeafKeys {
            // Appending at the right edge of the tree (a time-ordered stream) keeps the left node
            // full, so such a tree fills its nodes instead of leaving them half empty.
            let appending = leafHigh == nil && position == current.keys.count - 1
            try split(appending: appending)
            invalidatePath()
        }
        return true
    }

    private func split(appending: Bool) throws {
        var childId = leafId
        var child = try node(leafId)
        var level = path.count
        while child.size > (child.isLeaf ? TreeLayout.maximumLeafKeys : TreeLayout.maximumInternalEntries) {
            let half = appending ? child.size - 1 : child.size / 2
            let right: MutableNode
            if child.isLeaf {
                right = MutableNode(leaf: Array(child.keys[half...]))
                child.keys.removeSubrange(half...)
            } else {
                right = MutableNode(branch: Array(child.entries[half...]))
                child.entries.removeSubrange(half...)
            }
            dirty.insert(childId)
            let rightId = allocate(right)
            guard let leftEntry = child.entry(id: childId), let rightEntry = right.entry(id: rightId) else {
                preconditionFailure("a split node has entries on both sides")
            }
            if level == 0 {
                let root = MutableNode(branch: [leftEntry, rightEntry])
                record.root = allocate(root)
                record.height += 1
                return
            }
            level -= 1
            let parent = path[level]
            parent.node.entries[parent.index] = leftEntry
            parent.node.entries.insert(rightEntry, at: parent.index + 1)
            dirty.insert(parent.id)
            childId = parent.id
            child = parent.node
        }
    }

    /// Removes a key; returns false if it was not there.
    func remove(_ key: SyncKey) throws -> Bool {
        invalidatePath()
        var path: [(id: UInt64, node: MutableNode, index: Int)] = []
        var id = record.root
        var current = try node(id)
        while !current.isLeaf {
            let index = Self.childIndex(for: key, in: current.entries)
            path.append((id, current, index))
            id = current.entries[index].child
            current = try node(id)
        }
        let position = Self.lowerBound(of: key, in: current.keys)
        guard position < current.keys.count && current.keys[position] == key else { return false }
        current.keys.remove(at: position)
        dirty.insert(id)

        let removed = Accumulator(key.hash)
        var childFirst = current.keys.first
        var childEmpty = current.keys.isEmpty
        for step in path.reversed() {
            let parent = step.node
            if childEmpty {
                parent.entries.remove(at: step.index)
            } else {
                parent.entries[step.index].count -= 1
                parent.entries[step.index].sum.subtract(removed)
                parent.entries[step.index].xor = parent.entries[step.index].xor.xor(key.hash)
                if let childFirst { parent.entries[step.index].firstKey = childFirst }
            }
            dirty.insert(step.id)
            childFirst = parent.entries.first?.firstKey
            childEmpty = parent.entries.isEmpty
        }
        try releaseEmptyNodes(leafId: id, path: path)
        try rebalance(path: path)
        try collapseRoot()
        return true
    }

    /// Deletes the nodes left empty by a removal (the leaf and any ancestors that lost their
    /// last child); their entries were already dropped from their parents.
    private func releaseEmptyNodes(leafId: UInt64, path: [(id: UInt64, node: MutableNode, index: Int)]) throws {
        var ids = path.map(\.id)
        ids.append(leafId)
        for id in ids.reversed() where id != record.root {
            guard let node = loaded[id], node.size == 0 else { break }
            release(id)
        }
    }

    /// Merges children that fell below a quarter full with a sibling when the two fit in one.
    private func rebalance(path: [(id: UInt64, node: MutableNode, index: Int)]) throws {
        for step in path.reversed() {
            let parent = step.node
            guard parent.entries.count > 1, deleted.contains(step.id) == false else { continue }
            let index = min(step.index, parent.entries.count - 1)
            let child = try node(parent.entries[index].child)
            let minimum = child.isLeaf ? TreeLayout.minimumLeafKeys : TreeLayout.minimumInternalEntries
            let maximum = child.isLeaf ? TreeLayout.maximumLeafKeys : TreeLayout.maximumInternalEntries
            guard child.size < minimum else { continue }
            let siblingIndex = index + 1 < parent.entries.count ? index + 1 : index - 1
            let (leftIndex, rightIndex) = (min(index, siblingIndex), max(index, siblingIndex))
            let leftId = parent.entries[leftIndex].child
            let rightId = parent.entries[rightIndex].child
            let left = try node(leftId)
            let right = try node(rightId)
            guard left.size + right.size <= maximum else { continue }
            if left.isLeaf {
                left.keys.append(contentsOf: right.keys)
            } else {
                left.entries.append(contentsOf: right.entries)
            }
            var merged = parent.entries[leftIndex]
            merged.count += parent.entries[rightIndex].count
            merged.sum.add(parent.entries[rightIndex].sum)
            merged.xor = merged.xor.xor(parent.entries[rightIndex].xor)
            parent.entries[leftIndex] = merged
            parent.entries.remove(at: rightIndex)
            release(rightId)
            dirty.insert(leftId)
            dirty.insert(step.id)
        }
    }

    /// Replaces a root with a single child by that child, and an empty internal root by a leaf.
    private func collapseRoot() throws {
        while true {
            let root = try node(record.root)
            if root.isLeaf { return }
            if root.entries.isEmpty {
                release(record.root)
                record.root = allocate(MutableNode(leaf: []))
                record.height = 1
                return
            }
            guard root.entries.count == 1 else { return }
            let only = root.entries[0].child
            release(record.root)
            record.root = only
            record.height -= 1
        }
    }

    /// Writes every changed node and deletes the released ones.
    func flush() throws {
        for id in deleted {
            try withNodeKey(scope: record.scopeId, node: id) { key in _ = try txn.delete(nodesDatabase, key) }
        }
        for id in dirty {
            guard let node = loaded[id] else { continue }
            try withNodeKey(scope: record.scopeId, node: id) { key in
                try txn.putReserved(nodesDatabase, key, size: node.encodedSize) { node.encode(into: $0) }
            }
        }
        dirty.removeAll()
        deleted.removeAll()
    }
}
