import CLMDB

/// The tree writers of one write transaction, one per scope it touches, each created on first
/// use (with a new scope record for a scope not yet stored).
final class TreeWriters {
    private let txn: LMDBTransaction
    private let databases: LMDBEnvironment.Databases
    private var writers: [[UInt8]: TreeWriter] = [:]

    static let nextScopeKey = Array("next_scope".utf8)

    init(txn: LMDBTransaction, databases: LMDBEnvironment.Databases) {
        self.txn = txn
        self.databases = databases
    }

    /// The writer of a scope, which is created if it does not exist yet.
    func writer(_ scopeKey: [UInt8]) throws -> TreeWriter {
        if let writer = writers[scopeKey] { return writer }
        let writer: TreeWriter
        if let record = try Self.record(txn, databases, scopeKey) {
            writer = TreeWriter(txn: txn, nodes: databases.nodes, record: record)
        } else {
            let scopeId = try txn.nextCounter(databases.meta, Self.nextScopeKey)
            writer = TreeWriter(
                txn: txn, nodes: databases.nodes, record: TreeWriter.emptyRecord(scopeId: scopeId), isNew: true)
            writer.createEmptyRoot()
        }
        writers[scopeKey] = writer
        return writer
    }

    /// Writes every changed node and every changed scope record.
    func finish() throws {
        for (scopeKey, writer) in writers {
            try writer.flush()
            if writer.record != writer.originalRecord {
                try txn.put(databases.scopes, scopeKey, writer.record.encoded())
            }
        }
        writers.removeAll()
    }

    /// The stored record of a scope, nil if there is none.
    static func record(_ txn: LMDBTransaction, _ databases: LMDBEnvironment.Databases, _ scopeKey: [UInt8])
        throws -> ScopeRecord?
    {
        // A key too long for LMDB was never stored.
        guard scopeKey.count <= 511 else { return nil }
        return try scopeKey.withUnsafeBytes { raw in
            try txn.get(databases.scopes, raw).map {
                try ScopeRecord(decoding: $0, scope: String(decoding: scopeKey.dropFirst(), as: UTF8.self))
            }
        }
    }
}
