import StoreSyncCore

extension MessageStore {
    private static func markerKey(_ name: String) -> [UInt8] {
        Array("marker/".utf8) + Array(name.utf8)
    }

    /// A named 64-bit value kept in the store beside the messages (watermarks, progress of
    /// background work), durable as they are. Nil when never set.
    public func marker(_ name: String) throws -> UInt64? {
        try environment.read { txn in
            guard let raw = try txn.get(databases.meta, Self.markerKey(name)) else { return nil }
            guard raw.count == 8 else {
                throw StoreError.corruptRecord(what: "marker \(name)", detail: "\(raw.count) bytes, expected 8")
            }
            return raw.withUnsafeBytes { $0.loadBigEndianUInt64(at: 0) }
        }
    }

    /// Sets (or, with nil, removes) named values, all in one write transaction.
    public func setMarkers(_ values: [String: UInt64?]) throws {
        try environment.write { txn in
            for (name, value) in values {
                if let value {
                    var raw = [UInt8]()
                    raw.appendBigEndian(value)
                    try txn.put(databases.meta, Self.markerKey(name), raw)
                } else {
                    try txn.delete(databases.meta, Self.markerKey(name))
                }
            }
        }
    }
}
