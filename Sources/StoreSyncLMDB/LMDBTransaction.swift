import CLMDB

/// One LMDB transaction: a read snapshot or the single writer. Values returned by `get` point
/// into the memory map and stay valid until the transaction ends or writes to that record.
struct LMDBTransaction {
    let pointer: OpaquePointer
    let isReadOnly: Bool

    func get(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer? {
        var keyValue = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var data = MDB_val()
        let code = mdb_get(pointer, dbi, &keyValue, &data)
        if code == MDB_NOTFOUND { return nil }
        try StoreError.check(code, "get")
        return UnsafeRawBufferPointer(start: data.mv_data, count: data.mv_size)
    }

    func get(_ dbi: MDB_dbi, _ key: [UInt8]) throws -> [UInt8]? {
        try key.withUnsafeBytes { raw in try get(dbi, raw).map { Array($0) } }
    }

    /// Stores a value; with `noOverwrite`, returns false (writing nothing) if the key exists.
    @discardableResult
    func put(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, noOverwrite: Bool = false)
        throws -> Bool
    {
        var keyValue = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var data = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        let code = mdb_put(pointer, dbi, &keyValue, &data, noOverwrite ? UInt32(MDB_NOOVERWRITE) : 0)
        if code == MDB_KEYEXIST && noOverwrite { return false }
        if code == MDB_MAP_FULL { throw StoreError.lmdb(code: code, operation: "put", message: "map full") }
        try StoreError.check(code, "put")
        return true
    }

    @discardableResult
    func put(_ dbi: MDB_dbi, _ key: [UInt8], _ value: [UInt8], noOverwrite: Bool = false) throws -> Bool {
        try key.withUnsafeBytes { rawKey in
            try value.withUnsafeBytes { rawValue in
                try put(dbi, rawKey, rawValue, noOverwrite: noOverwrite)
            }
        }
    }

    /// Empties a database, keeping it open.
    func empty(_ dbi: MDB_dbi) throws {
        try StoreError.check(mdb_drop(pointer, dbi, 0), "empty database")
    }

    /// Records in a database.
    func entries(_ dbi: MDB_dbi) throws -> Int {
        var stat = MDB_stat()
        try StoreError.check(mdb_stat(pointer, dbi, &stat), "stat")
        return Int(stat.ms_entries)
    }

    /// Reserves `size` bytes for a record's value and lets `fill` write them in place, saving the
    /// copy of a separate buffer.
    func putReserved(
        _ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer, size: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void
    )
        throws
    {
        var keyValue = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var data = MDB_val(mv_size: size, mv_data: nil)
        let code = mdb_put(pointer, dbi, &keyValue, &data, UInt32(MDB_RESERVE))
        if code == MDB_MAP_FULL { throw StoreError.lmdb(code: code, operation: "put", message: "map full") }
        try StoreError.check(code, "put reserved")
        fill(UnsafeMutableRawBufferPointer(start: data.mv_data, count: size))
    }

    /// Deletes a record; returns false if there was none.
    @discardableResult
    func delete(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer) throws -> Bool {
        var keyValue = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        let code = mdb_del(pointer, dbi, &keyValue, nil)
        if code == MDB_NOTFOUND { return false }
        try StoreError.check(code, "delete")
        return true
    }

    @discardableResult
    func delete(_ dbi: MDB_dbi, _ key: [UInt8]) throws -> Bool {
        try key.withUnsafeBytes { raw in try delete(dbi, raw) }
    }

    /// Visits records with keys from `start` (inclusive) in key order until `body` returns false.
    func scan(
        _ dbi: MDB_dbi,
        from start: [UInt8],
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try prune(dbi, from: start) { try body($0, $1) ? .next : .stop }
    }

    /// What a walk does with the record it is shown.
    enum WalkStep {
        case next
        case delete
        case stop
    }

    /// Visits records with keys from `start` (inclusive; the first record, for an empty key) in
    /// key order, deleting those `body` says to, until it says stop. After a delete the cursor
    /// stands on the next record, which the step forward then returns.
    func prune(
        _ dbi: MDB_dbi,
        from start: [UInt8],
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> WalkStep
    ) throws {
        var cursor: OpaquePointer?
        try StoreError.check(mdb_cursor_open(pointer, dbi, &cursor), "cursor open")
        defer { mdb_cursor_close(cursor) }
        var keyValue = MDB_val()
        var data = MDB_val()
        var code: Int32 = start.withUnsafeBytes { raw in
            keyValue = MDB_val(mv_size: raw.count, mv_data: UnsafeMutableRawPointer(mutating: raw.baseAddress))
            return start.isEmpty
                ? mdb_cursor_get(cursor, &keyValue, &data, MDB_FIRST)
                : mdb_cursor_get(cursor, &keyValue, &data, MDB_SET_RANGE)
        }
        while code == 0 {
            let key = UnsafeRawBufferPointer(start: keyValue.mv_data, count: keyValue.mv_size)
            let value = UnsafeRawBufferPointer(start: data.mv_data, count: data.mv_size)
            switch try body(key, value) {
            case .stop: return
            case .delete:
                try StoreError.check(mdb_cursor_del(cursor, 0), "cursor delete")
            case .next: break
            }
            code = mdb_cursor_get(cursor, &keyValue, &data, MDB_NEXT)
        }
        if code != MDB_NOTFOUND { try StoreError.check(code, "cursor step") }
    }
}

extension UnsafeRawBufferPointer {
    @inlinable
    func loadBigEndianUInt64(at offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inlinable
    func loadBigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ value: UInt64) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    mutating func appendBigEndian(_ value: UInt32) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}

extension LMDBTransaction {
    /// Hands out the next value of a counter kept in the `meta` database (starting at 1).
    func nextCounter(_ meta: MDB_dbi, _ name: [UInt8]) throws -> UInt32 {
        let current = try get(meta, name).flatMap(MessageStore.bigEndianUInt32) ?? 1
        var next = [UInt8]()
        next.appendBigEndian(current + 1)
        try put(meta, name, next)
        return current
    }
}
