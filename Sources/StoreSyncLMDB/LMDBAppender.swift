import CLMDB

/// Writes records after every record of a database, in ascending key order, through one cursor
/// kept at the end (LMDB's MDB_APPEND): no search per record, and pages filled full.
struct LMDBAppender {
    private let cursor: OpaquePointer

    /// Runs `body` with an appender to `dbi` in `txn`.
    static func with<T>(_ txn: LMDBTransaction, _ dbi: MDB_dbi, _ body: (LMDBAppender) throws -> T) throws -> T {
        var cursor: OpaquePointer?
        try StoreError.check(mdb_cursor_open(txn.pointer, dbi, &cursor), "open cursor")
        guard let cursor else { throw StoreError.lmdb(code: -1, operation: "open cursor", message: "no cursor") }
        defer { mdb_cursor_close(cursor) }
        return try body(LMDBAppender(cursor: cursor))
    }

    /// Appends a record; a key not above the last one is refused with `invalidRequest`.
    func append(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws {
        var keyValue = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var data = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        let code = mdb_cursor_put(cursor, &keyValue, &data, UInt32(MDB_APPEND))
        if code == MDB_KEYEXIST { throw StoreError.invalidRequest("append of a key not above the last one") }
        if code == MDB_MAP_FULL { throw StoreError.lmdb(code: code, operation: "append", message: "map full") }
        try StoreError.check(code, "append")
    }
}
