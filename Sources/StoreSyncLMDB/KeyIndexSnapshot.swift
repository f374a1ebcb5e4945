import CLMDB
import StoreSyncCore

/// One scope's key index as of one read transaction: the `ReconciliationStorage` the engine reads
/// in production. Count, key at a position, lower bound, range sums and XORs each cost one
/// descent of the counted tree (its height, a handful of nodes), never a scan.
///
/// Valid only inside the `MessageStore.withSnapshot` call that made it.
public final class KeyIndexSnapshot: ReconciliationStorage {
    private let txn: LMDBTransaction
    private let nodesDatabase: MDB_dbi
    private let record: ScopeRecord?
    /// Node bytes by id: pointers into the map, valid for the transaction.
    private var nodes: [UInt64: NodeView] = [:]
    private var cachedCount: Int?
    /// The leaf last descended to and the position of its first key.
    private var lastLeaf: (view: NodeView, start: Int)?
    /// The last two prefix sums computed (positions and sums), as splits ask for adjacent ranges.
    private var prefixCache: [(position: Int, sum: Accumulator)] = []

    init(txn: LMDBTransaction, nodes: MDB_dbi, record: ScopeRecord?) {
        self.txn = txn
        self.nodesDatabase = nodes
        self.record = record
    }

    private func node(_ id: UInt64) throws -> NodeView {
        if let view = nodes[id] { return view }
        guard let record else { throw StoreError.corruptRecord(what: "key index", detail: "no scope record") }
        let view = try withNodeKey(scope: record.scopeId, node: id) { key -> NodeView in
            guard let raw = try txn.get(nodesDatabase, key) else {
                throw StoreError.corruptRecord(what: "tree node \(id) of scope \(record.scopeId)", detail: "missing")
            }
            return try NodeView(raw, id: id)
        }
        nodes[id] = view
        return view
    }

    public func count() throws -> Int {
        if let cachedCount { return cachedCount }
        guard let record else { return 0 }
        let root = try node(record.root)
        var total = 0
        if root.isLeaf {
            total = root.count
        } else {
            for index in 0..<root.count { total += root.count(ofEntry: index) }
        }
        cachedCount = total
        return total
    }

    /// Descends by position to the leaf holding `position` (for `position == count()`, the last
    /// leaf): the leaf, the position of its first key, and, when `summing`, the sum of the ids of
    /// the keys before it.
    private func descend(to position: Int, summing: Bool) throws -> (view: NodeView, start: Int, sum: Accumulator) {
        guard let record else { throw StoreError.corruptRecord(what: "key index", detail: "no scope record") }
        var view = try node(record.root)
        var start = 0
        var sum = Accumulator()
        while !view.isLeaf {
            var index = 0
            while index < view.count - 1 {
                let size = view.count(ofEntry: index)
                if position - start < size { break }
                start += size
                if summing { sum.add(view.sum(ofEntry: index)) }
                index += 1
            }
            view = try node(view.child(ofEntry: index))
        }
        return (view, start, sum)
    }

    /// The leaf holding `position`, with the position of its first key; the last one is kept,
    /// as neighbouring positions are asked for in turn.
    private func leaf(containing position: Int) throws -> (view: NodeView, start: Int) {
        if let lastLeaf, position >= lastLeaf.start, position < lastLeaf.start + lastLeaf.view.count {
            return lastLeaf
        }
        let (view, start, _) = try descend(to: position, summing: false)
        lastLeaf = (view, start)
        return (view, start)
    }

    public func key(at index: Int) throws -> SyncKey {
        let (view, start) = try leaf(containing: index)
        return view.key(at: index - start)
    }

    public func lowerBound(of key: SyncKey, in range: Range<Int>) throws -> Int {
        guard let record, !range.isEmpty else { return range.lowerBound }
        var view = try node(record.root)
        var rank = 0
        while !view.isLeaf {
            let starting = view.entriesStarting(atOrBefore: key)
            if starting == 0 { break }
            for index in 0..<(starting - 1) { rank += view.count(ofEntry: index) }
            view = try node(view.child(ofEntry: starting - 1))
        }
        if view.isLeaf { rank += view.leafLowerBound(key) }
        return min(max(rank, range.lowerBound), range.upperBound)
    }

    /// The sum of the ids of the first `position` keys.
    private func prefixSum(_ position: Int) throws -> Accumulator {
        if position == 0 { return Accumulator() }
        if let hit = prefixCache.first(where: { $0.position == position }) { return hit.sum }
        guard record != nil else { return Accumulator() }
        var (view, start, sum) = try descend(to: position, summing: true)
        for index in 0..<min(position - start, view.count) { sum.add(view.key(at: index).hash) }
        if prefixCache.count >= 2 { prefixCache.removeFirst() }
        prefixCache.append((position, sum))
        return sum
    }

    public func accumulator(of range: Range<Int>) throws -> Accumulator {
        if range.isEmpty { return Accumulator() }
        return try prefixSum(range.upperBound).subtracting(try prefixSum(range.lowerBound))
    }

    /// Prefixes computed in this snapshot, by key: below it and through it. The store-sync engine
    /// asks count, XOR and keys of one range in turn, and the parts of a split share their
    /// bounds (one part's last key bound is the next one's first).
    private var prefixes: [SyncKey: (below: Prefix, through: Prefix)] = [:]

    /// The keys before a bound: how many, and the XOR of their hashes.
    struct Prefix {
        var count = 0
        var xor = MessageHash.zero
    }

    /// The number of keys below `key` (through it, when `including`) and the XOR of their
    /// hashes: one descent by key, whole children taken from their parents' entries.
    func prefix(before key: SyncKey, including: Bool) throws -> (count: Int, xor: MessageHash) {
        let both: (below: Prefix, through: Prefix)
        if let known = prefixes[key] {
            both = known
        } else {
            both = try descendForPrefix(key)
            if prefixes.count >= 4_096 { prefixes.removeAll(keepingCapacity: true) }
            prefixes[key] = both
        }
        let prefix = including ? both.through : both.below
        return (prefix.count, prefix.xor)
    }

    private func descendForPrefix(_ key: SyncKey) throws -> (below: Prefix, through: Prefix) {
        guard let record else { return (Prefix(), Prefix()) }
        var view = try node(record.root)
        var below = Prefix()
        while !view.isLeaf {
            let starting = view.entriesStarting(atOrBefore: key)
            if starting == 0 { return (below, below) }
            for index in 0..<(starting - 1) {
                below.count += view.count(ofEntry: index)
                below.xor = below.xor.xor(view.xor(ofEntry: index))
            }
            view = try node(view.child(ofEntry: starting - 1))
        }
        var through = below
        for index in 0..<view.count {
            let stored = view.key(at: index)
            if stored < key {
                below.count += 1
                below.xor = below.xor.xor(stored.hash)
                through = below
            } else {
                if stored == key {
                    through.count += 1
                    through.xor = through.xor.xor(stored.hash)
                }
                break
            }
        }
        return (below, through)
    }

    public func forEachKey(in range: Range<Int>, _ body: (SyncKey) throws -> Bool) throws {
        var position = range.lowerBound
        while position < range.upperBound {
            let (view, start) = try leaf(containing: position)
            let end = min(range.upperBound - start, view.count)
            for index in (position - start)..<end {
                guard try body(view.key(at: index)) else { return }
            }
            position = start + end
        }
    }
}
