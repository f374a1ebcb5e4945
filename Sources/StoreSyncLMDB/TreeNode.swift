import StoreSyncCore

/// On-disk layout of the counted B+tree's nodes (SPEC.md, "LMDB layout").
///
/// Every node is one LMDB value, small enough to stay inside a page (no overflow pages), so that
/// changing one node rewrites one page:
/// - header, 16 bytes: kind (1 = leaf, 2 = internal), 3 zero bytes, entry count (UInt32 BE),
///   8 zero bytes;
/// - leaf: `count` keys of 40 bytes: timestamp (UInt64 BE), hash (32 bytes);
/// - internal: `count` entries of 120 bytes: the child's first key (40 bytes), child node id
///   (UInt64 BE), the child's key count (UInt64 BE), the sum of its ids (32 bytes, little-endian),
///   the XOR of its ids (32 bytes).
enum TreeLayout {
    static let headerSize = 16
    static let keySize = 40
    static let entrySize = 120
    /// Internal entries of format 1, which had no XOR: read only to upgrade a store.
    static let formatOneEntrySize = 88
    static let maximumLeafKeys = 48
    static let maximumInternalEntries = 16
    /// Below this a node is merged with a sibling when the two fit in one.
    static let minimumLeafKeys = maximumLeafKeys / 4
    static let minimumInternalEntries = maximumInternalEntries / 4
    static let leafKind: UInt8 = 1
    static let internalKind: UInt8 = 2
}

/// What a parent knows of one child.
struct ChildEntry: Equatable {
    var firstKey: SyncKey
    var child: UInt64
    var count: UInt64
    var sum: Accumulator
    var xor: MessageHash
}

/// A node decoded for modification inside a write transaction.
final class MutableNode {
    enum Content {
        case leaf([SyncKey])
        case branch([ChildEntry])
    }

    var keys: [SyncKey]
    var entries: [ChildEntry]
    let isLeaf: Bool

    init(leaf keys: [SyncKey]) {
        self.keys = keys
        self.entries = []
        self.isLeaf = true
    }

    init(branch entries: [ChildEntry]) {
        self.keys = []
        self.entries = entries
        self.isLeaf = false
    }

    var size: Int { isLeaf ? keys.count : entries.count }

    /// The entry a parent holds for this node; nil when the node is empty.
    func entry(id: UInt64) -> ChildEntry? {
        if isLeaf {
            guard let first = keys.first else { return nil }
            var sum = Accumulator()
            var xor = MessageHash.zero
            for key in keys {
                sum.add(key.hash)
                xor = xor.xor(key.hash)
            }
            return ChildEntry(firstKey: first, child: id, count: UInt64(keys.count), sum: sum, xor: xor)
        }
        guard let first = entries.first else { return nil }
        var sum = Accumulator()
        var xor = MessageHash.zero
        var count: UInt64 = 0
        for entry in entries {
            sum.add(entry.sum)
            xor = xor.xor(entry.xor)
            count += entry.count
        }
        return ChildEntry(firstKey: first.firstKey, child: id, count: count, sum: sum, xor: xor)
    }

    /// Bytes of the encoded node.
    var encodedSize: Int {
        TreeLayout.headerSize + (isLeaf ? keys.count * TreeLayout.keySize : entries.count * TreeLayout.entrySize)
    }

    /// Writes the node's encoding into `out`, which has exactly `encodedSize` bytes.
    func encode(into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count == encodedSize, "node buffer of the wrong size")
        out.initializeMemory(as: UInt8.self, repeating: 0)
        out[0] = isLeaf ? TreeLayout.leafKind : TreeLayout.internalKind
        out.storeBytes(of: UInt32(size).bigEndian, toByteOffset: 4, as: UInt32.self)
        var offset = TreeLayout.headerSize
        if isLeaf {
            for key in keys {
                Self.store(key, into: out, at: offset)
                offset += TreeLayout.keySize
            }
        } else {
            for entry in entries {
                Self.store(entry.firstKey, into: out, at: offset)
                out.storeBytes(of: entry.child.bigEndian, toByteOffset: offset + 40, as: UInt64.self)
                out.storeBytes(of: entry.count.bigEndian, toByteOffset: offset + 48, as: UInt64.self)
                out.storeBytes(of: entry.sum.limb0.littleEndian, toByteOffset: offset + 56, as: UInt64.self)
                out.storeBytes(of: entry.sum.limb1.littleEndian, toByteOffset: offset + 64, as: UInt64.self)
                out.storeBytes(of: entry.sum.limb2.littleEndian, toByteOffset: offset + 72, as: UInt64.self)
                out.storeBytes(of: entry.sum.limb3.littleEndian, toByteOffset: offset + 80, as: UInt64.self)
                Self.store(entry.xor, into: out, at: offset + 88)
                offset += TreeLayout.entrySize
            }
        }
    }

    @inline(__always)
    static func store(_ key: SyncKey, into out: UnsafeMutableRawBufferPointer, at offset: Int) {
        out.storeBytes(of: key.timestamp.bigEndian, toByteOffset: offset, as: UInt64.self)
        store(key.hash, into: out, at: offset + 8)
    }

    @inline(__always)
    static func store(_ hash: MessageHash, into out: UnsafeMutableRawBufferPointer, at offset: Int) {
        out.storeBytes(of: hash.word0.bigEndian, toByteOffset: offset, as: UInt64.self)
        out.storeBytes(of: hash.word1.bigEndian, toByteOffset: offset + 8, as: UInt64.self)
        out.storeBytes(of: hash.word2.bigEndian, toByteOffset: offset + 16, as: UInt64.self)
        out.storeBytes(of: hash.word3.bigEndian, toByteOffset: offset + 24, as: UInt64.self)
    }

    static func decode(_ raw: UnsafeRawBufferPointer, id: UInt64) throws(StoreError) -> MutableNode {
        let view = try NodeView(raw, id: id)
        if view.isLeaf {
            return MutableNode(leaf: (0..<view.count).map { view.key(at: $0) })
        }
        return MutableNode(branch: (0..<view.count).map { view.entry(at: $0) })
    }
}

/// A node read in place from the memory map, without copying.
struct NodeView {
    let raw: UnsafeRawBufferPointer
    let isLeaf: Bool
    let count: Int

    init(_ raw: UnsafeRawBufferPointer, id: UInt64) throws(StoreError) {
        guard raw.count >= TreeLayout.headerSize else {
            throw .corruptRecord(what: "tree node \(id)", detail: "\(raw.count) bytes, shorter than a header")
        }
        let kind = raw[0]
        let count = Int(raw.loadBigEndianUInt32(at: 4))
        let size: Int
        switch kind {
        case TreeLayout.leafKind: size = TreeLayout.keySize
        case TreeLayout.internalKind: size = TreeLayout.entrySize
        default: throw .corruptRecord(what: "tree node \(id)", detail: "unknown kind \(kind)")
        }
        guard raw.count == TreeLayout.headerSize + count * size else {
            throw .corruptRecord(what: "tree node \(id)", detail: "\(raw.count) bytes for \(count) entries")
        }
        self.raw = raw
        self.isLeaf = kind == TreeLayout.leafKind
        self.count = count
    }

    @inline(__always)
    func key(at index: Int) -> SyncKey {
        let offset = TreeLayout.headerSize + index * TreeLayout.keySize
        return Self.key(in: raw, at: offset)
    }

    @inline(__always)
    static func key(in raw: UnsafeRawBufferPointer, at offset: Int) -> SyncKey {
        SyncKey(timestamp: raw.loadBigEndianUInt64(at: offset), hash: hash(in: raw, at: offset + 8))
    }

    @inline(__always)
    static func hash(in raw: UnsafeRawBufferPointer, at offset: Int) -> MessageHash {
        MessageHash(
            word0: raw.loadBigEndianUInt64(at: offset),
            word1: raw.loadBigEndianUInt64(at: offset + 8),
            word2: raw.loadBigEndianUInt64(at: offset + 16),
            word3: raw.loadBigEndianUInt64(at: offset + 24)
        )
    }

    @inline(__always)
    func firstKey(ofEntry index: Int) -> SyncKey {
        Self.key(in: raw, at: TreeLayout.headerSize + index * TreeLayout.entrySize)
    }

    @inline(__always)
    func child(ofEntry index: Int) -> UInt64 {
        raw.loadBigEndianUInt64(at: TreeLayout.headerSize + index * TreeLayout.entrySize + 40)
    }

    @inline(__always)
    func count(ofEntry index: Int) -> Int {
        Int(raw.loadBigEndianUInt64(at: TreeLayout.headerSize + index * TreeLayout.entrySize + 48))
    }

    @inline(__always)
    func sum(ofEntry index: Int) -> Accumulator {
        let offset = TreeLayout.headerSize + index * TreeLayout.entrySize + 56
        return Accumulator(littleEndianBytes: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + 32)]))
    }

    @inline(__always)
    func xor(ofEntry index: Int) -> MessageHash {
        Self.hash(in: raw, at: TreeLayout.headerSize + index * TreeLayout.entrySize + 88)
    }

    func entry(at index: Int) -> ChildEntry {
        ChildEntry(
            firstKey: firstKey(ofEntry: index), child: child(ofEntry: index), count: UInt64(count(ofEntry: index)),
            sum: sum(ofEntry: index), xor: xor(ofEntry: index))
    }

    /// The number of entries whose first key is at most `key` (so the child to descend into for
    /// `key` is that number minus one, or the first).
    func entriesStarting(atOrBefore key: SyncKey) -> Int {
        firstIndex(in: 0..<count) { key < firstKey(ofEntry: $0) }
    }

    /// The position of the first key in a leaf not below `key`.
    func leafLowerBound(_ key: SyncKey) -> Int {
        firstIndex(in: 0..<count) { self.key(at: $0) >= key }
    }
}

/// Where a scope's tree lives: the value of its record in the `scopes` database.
struct ScopeRecord: Equatable {
    static let encodedSize = 24

    var scopeId: UInt32
    var height: UInt32
    var root: UInt64
    var nextNodeId: UInt64

    func encoded() -> [UInt8] {
        var out = [UInt8]()
        out.appendBigEndian(scopeId)
        out.appendBigEndian(height)
        out.appendBigEndian(root)
        out.appendBigEndian(nextNodeId)
        return out
    }

    init(scopeId: UInt32, height: UInt32, root: UInt64, nextNodeId: UInt64) {
        self.scopeId = scopeId
        self.height = height
        self.root = root
        self.nextNodeId = nextNodeId
    }

    init(decoding raw: UnsafeRawBufferPointer, scope: String) throws(StoreError) {
        guard raw.count == Self.encodedSize else {
            throw .corruptRecord(what: "scope record of \(scope)", detail: "\(raw.count) bytes, expected 24")
        }
        scopeId = raw.loadBigEndianUInt32(at: 0)
        height = raw.loadBigEndianUInt32(at: 4)
        root = raw.loadBigEndianUInt64(at: 8)
        nextNodeId = raw.loadBigEndianUInt64(at: 16)
    }
}

/// The LMDB key of a node: scope id and node id, both UInt64 big-endian.
@inline(__always)
func withNodeKey<T>(scope: UInt32, node: UInt64, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
    let key = (UInt64(scope).bigEndian, node.bigEndian)
    return try withUnsafeBytes(of: key) { try body($0) }
}
