import CLMDB
import Glibc
import StoreSyncCore

/// The tree nodes of a bulk load, held until every tree is built and they can be appended to
/// the `nodes` database in key order: in memory up to `memoryBudget` bytes, in a scratch file
/// beyond. Written where they belong as they come, the nodes of the many trees a load grows
/// side by side would land between one another's, and every page would be split in half: twice
/// the pages, and twice the bytes to the disk.
final class SpilledNodes {
    private let path: String
    private var descriptor: Int32
    /// Encoded nodes not written to the file: the first `pendingCount` bytes of `memory`, whose
    /// capacity is the bytes of nodes held before they are written.
    private let memory: AnonymousRegion
    private var pendingCount = 0
    /// Bytes in the file.
    private var written = 0
    /// Where each scope's nodes lie in the file, at position node id - 1.
    private var places: [UInt32: [Place]] = [:]

    private struct Place {
        var offset: Int
        var length: Int
    }

    /// Nodes appended per write transaction.
    static let appendChunk = 50_000

    init(path: String, memoryBudget: Int) throws {
        self.path = path
        memory = try AnonymousRegion(capacity: max(64 << 10, memoryBudget))
        descriptor = open(path, O_CREAT | O_TRUNC | O_RDWR, 0o600)
        guard descriptor >= 0 else { throw StoreError.scratchFile(path: path, operation: "create", errno: errno) }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
        unlink(path)
    }

    /// Keeps node `id` of `scope`; a node kept before under the same id (by a transaction that
    /// is run again) is replaced.
    func put(_ node: MutableNode, scope: UInt32, id: UInt64) throws {
        let size = node.encodedSize
        if pendingCount + size > memory.capacity { try writePending() }
        node.encode(into: UnsafeMutableRawBufferPointer(start: memory.base + pendingCount, count: size))
        let place = Place(offset: written + pendingCount, length: size)
        pendingCount += size
        let index = Int(id) - 1
        if index < places[scope, default: []].count {
            places[scope]![index] = place
        } else {
            places[scope, default: []].append(place)
        }
    }

    /// Appends the nodes of every scope in `scopes`, ids 1 up to its record's next node id, to
    /// `nodes`, which holds no nodes yet.
    func append(_ scopes: [ScopeRecord], to environment: LMDBEnvironment, nodes: MDB_dbi) throws {
        guard written > 0 else {
            try append(scopes, from: pendingBytes, to: environment, nodes: nodes)
            return
        }
        try writePending()
        guard let mapping = mmap(nil, written, PROT_READ, MAP_SHARED, descriptor, 0), mapping != MAP_FAILED else {
            throw StoreError.scratchFile(path: path, operation: "map", errno: errno)
        }
        defer { munmap(mapping, written) }
        try append(scopes, from: UnsafeRawBufferPointer(start: mapping, count: written), to: environment, nodes: nodes)
    }

    /// Appends the nodes from `file`, the bytes they were kept in.
    private func append(
        _ scopes: [ScopeRecord], from file: UnsafeRawBufferPointer, to environment: LMDBEnvironment, nodes: MDB_dbi
    ) throws {
        var queue: [(scope: UInt32, places: [Place])] = []
        for record in scopes.sorted(by: { $0.scopeId < $1.scopeId }) {
            let kept = places[record.scopeId] ?? []
            let count = Int(record.nextNodeId) - 1
            guard count <= kept.count else {
                throw StoreError.scratchFile(path: path, operation: "read (a node was never kept)", errno: EIO)
            }
            queue.append((record.scopeId, Array(kept.prefix(count))))
        }
        var position = (scope: 0, node: 0)
        while position.scope < queue.count {
            position = try environment.write { txn in
                var (scope, node) = position
                try LMDBAppender.with(txn, nodes) { appender in
                    var appended = 0
                    while scope < queue.count, appended < Self.appendChunk {
                        let (scopeId, places) = queue[scope]
                        while node < places.count, appended < Self.appendChunk {
                            let place = places[node]
                            try withNodeKey(scope: scopeId, node: UInt64(node + 1)) { key in
                                try appender.append(
                                    key,
                                    UnsafeRawBufferPointer(rebasing: file[place.offset..<place.offset + place.length]))
                            }
                            node += 1
                            appended += 1
                        }
                        if node == places.count {
                            scope += 1
                            node = 0
                        }
                    }
                }
                return (scope, node)
            }
            environment.startWriteback()
        }
    }

    private var pendingBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: memory.base, count: pendingCount)
    }

    private func writePending() throws {
        try ScratchFile.write(pendingBytes, to: descriptor, at: written, path: path)
        written += pendingCount
        pendingCount = 0
    }
}
