import CLMDB
import Foundation

/// An open LMDB environment with the databases of the store, map growth, and the locking that
/// growth needs. Thread-safe: LMDB serialises writers; this type serialises this process's
/// writers and keeps transactions out of the way of a resize.
final class LMDBEnvironment: @unchecked Sendable {
    /// The named databases of the store.
    struct Databases {
        var meta: MDB_dbi = 0
        var scopes: MDB_dbi = 0
        var nodes: MDB_dbi = 0
        var messages: MDB_dbi = 0
        var contentTopics: MDB_dbi = 0
    }

    /// The names of the databases of the current format.
    static let databaseNames = ["meta", "scopes", "nodes", "messages", "content_topics"]
    /// The unnamed database, whose keys are the names of the others.
    static let mainDatabase: MDB_dbi = 1

    static let formatKey = Array("format".utf8)
    static let formatValue = "storesync-lmdb/3"

    let pointer: OpaquePointer
    let configuration: StoreConfiguration
    private(set) var databases = Databases()
    /// Guarded by `resizeLock` (read shared, written exclusive).
    private var mapSize: Int
    private let resizeLock = ReadWriteLock()
    private let writerLock = PlainMutex()

    var dataFilePath: String { configuration.directory + "/data.mdb" }

    init(configuration: StoreConfiguration) throws {
        guard configuration.initialMapSize > 0, configuration.maximumMapSize >= configuration.initialMapSize else {
            throw StoreError.invalidConfiguration("need 0 < initialMapSize <= maximumMapSize")
        }
        guard configuration.readerThreads >= 1, UInt32(configuration.readerThreads) < configuration.maximumReaders
        else {
            throw StoreError.invalidConfiguration("need 1 <= readerThreads < maximumReaders")
        }
        if let cap = configuration.retention.maximumBytes, cap < RetentionPolicy.minimumBytes {
            throw StoreError.invalidConfiguration(
                "a size cap of \(cap) bytes is below the minimum of \(RetentionPolicy.minimumBytes)")
        }
        let initialMapSize = configuration.effectiveInitialMapSize
        let maximumMapSize = configuration.effectiveMaximumMapSize
        self.configuration = configuration
        let directory = configuration.directory
        let dataPath = directory + "/data.mdb"
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw StoreError.notAStore(path: directory, reason: "it is a file; the store needs a directory")
            }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw StoreError.notAStore(path: directory, reason: "cannot create the directory: \(error)")
            }
        }
        let existingSize = (try? FileManager.default.attributesOfItem(atPath: dataPath)[.size] as? Int) ?? nil
        if let existingSize, existingSize == 0 {
            throw StoreError.truncatedDataFile(path: dataPath, fileSize: 0, expectedAtLeast: 1)
        }

        var env: OpaquePointer?
        try StoreError.check(mdb_env_create(&env), "env create")
        guard let env else { throw StoreError.lmdb(code: -1, operation: "env create", message: "no environment") }
        pointer = env
        // Every stored property is set from here on, so a throw runs deinit, which closes env.
        mapSize = initialMapSize
        try StoreError.check(mdb_env_set_maxdbs(env, 8), "set max dbs")
        try StoreError.check(mdb_env_set_maxreaders(env, configuration.maximumReaders), "set max readers")
        // Never map less than the file already holds: opened with a smaller map, LMDB sizes the
        // map to its last used page exactly, and growing from there after another process wrote
        // past it has crashed inside LMDB 0.9.24 (seen in the SIGKILL torture test).
        let openingMapSize = min(maximumMapSize, max(initialMapSize, (existingSize ?? 0) + (16 << 20)))
        mapSize = openingMapSize
        try StoreError.check(mdb_env_set_mapsize(env, openingMapSize), "set map size")
        var flags = UInt32(MDB_NOTLS)
        if configuration.durability == .noSync { flags |= UInt32(MDB_NOSYNC) }
        if configuration.writeMap { flags |= UInt32(MDB_WRITEMAP) }
        let code = mdb_env_open(env, directory, flags, 0o644)
        if code == MDB_INVALID || code == MDB_VERSION_MISMATCH {
            throw StoreError.notAStore(path: dataPath, reason: String(cString: mdb_strerror(code)))
        }
        try StoreError.check(code, "open \(directory)")

        var info = MDB_envinfo()
        var stat = MDB_stat()
        try StoreError.check(mdb_env_info(env, &info), "env info")
        try StoreError.check(mdb_env_stat(env, &stat), "env stat")
        mapSize = max(info.me_mapsize, initialMapSize)
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: dataPath)[.size] as? Int) ?? 0
        let needed = (Int(info.me_last_pgno) + 1) * Int(stat.ms_psize)
        if fileSize < needed {
            throw StoreError.truncatedDataFile(path: dataPath, fileSize: fileSize, expectedAtLeast: needed)
        }
        try openDatabases()
    }

    deinit {
        mdb_env_close(pointer)
    }

    private func openDatabases() throws {
        try write { txn in
            func open(_ name: String) throws -> MDB_dbi {
                var dbi: MDB_dbi = 0
                try StoreError.check(mdb_dbi_open(txn.pointer, name, UInt32(MDB_CREATE), &dbi), "open database \(name)")
                return dbi
            }
            let existing = try Self.namedDatabaseCount(txn)
            var databases = Databases()
            databases.meta = try open("meta")
            var found = Self.formatValue
            if let format = try txn.get(databases.meta, Self.formatKey) {
                found = String(decoding: format, as: UTF8.self)
                guard [Self.formatValue, FormatUpgrade.formatOne, FormatUpgrade.formatTwo].contains(found) else {
                    throw StoreError.unsupportedFormat(found: found, expected: Self.formatValue)
                }
            } else if existing > 0 {
                throw StoreError.notAStore(
                    path: dataFilePath, reason: "an LMDB environment without a StoreSync format record")
            } else {
                try txn.put(databases.meta, Self.formatKey, Array(Self.formatValue.utf8))
            }
            databases.scopes = try open("scopes")
            databases.nodes = try open("nodes")
            databases.messages = try open("messages")
            databases.contentTopics = try open("content_topics")
            if found != Self.formatValue {
                let contentIndex = try open(FormatUpgrade.contentIndexName)
                if found == FormatUpgrade.formatOne {
                    try FormatUpgrade.fromFormatOne(txn, databases, contentIndex: contentIndex)
                }
                try FormatUpgrade.fromFormatTwo(txn, contentIndex: contentIndex)
                try txn.put(databases.meta, Self.formatKey, Array(Self.formatValue.utf8))
            }
            self.databases = databases
        }
    }

    /// The number of records in the main (unnamed) database: the named databases of a used
    /// environment.
    private static func namedDatabaseCount(_ txn: LMDBTransaction) throws -> Int {
        var stat = MDB_stat()
        try StoreError.check(mdb_stat(txn.pointer, mainDatabase, &stat), "stat main database")
        return Int(stat.ms_entries)
    }

    /// Raised inside a transaction attempt when another process grew the map.
    private struct MapResized: Error {}

    /// Runs `body` in a read snapshot.
    func read<T>(_ body: (LMDBTransaction) throws -> T) throws -> T {
        while true {
            do {
                return try resizeLock.withShared { () throws -> T in
                    let txn = try begin(readOnly: true)
                    defer { mdb_txn_abort(txn.pointer) }
                    return try body(txn)
                }
            } catch is MapResized {
                try adoptResizedMap()
            }
        }
    }

    /// Runs `body` in the write transaction and commits it. If the map is full, the transaction
    /// is abandoned, the map grown (up to the maximum) and `body` run again from scratch.
    func write<T>(_ body: (LMDBTransaction) throws -> T) throws -> T {
        try writerLock.withLock { () throws -> T in
            while true {
                do {
                    return try resizeLock.withShared { () throws -> T in
                        let txn = try begin(readOnly: false)
                        let value: T
                        do {
                            value = try body(txn)
                        } catch {
                            mdb_txn_abort(txn.pointer)
                            throw error
                        }
                        // A commit frees its transaction even when it fails (MDB_MAP_FULL while
                        // saving the free list, say): it must not be aborted after that.
                        try StoreError.check(mdb_txn_commit(txn.pointer), "commit")
                        return value
                    }
                } catch is MapResized {
                    try adoptResizedMap()
                } catch StoreError.lmdb(let code, _, _) where code == MDB_MAP_FULL {
                    try grow()
                }
            }
        }
    }

    /// Turns the flush of each commit off (the commits of a bulk load, flushed once at its end
    /// by `flush()`) or back to what the configuration says.
    func deferFlushes(_ deferring: Bool) throws {
        guard configuration.durability != .noSync else { return }
        try StoreError.check(mdb_env_set_flags(pointer, UInt32(MDB_NOSYNC), deferring ? 1 : 0), "set flush mode")
    }

    /// Starts writing what is committed to the disk, without waiting for it: with flushes
    /// deferred, the disk then works behind a bulk load instead of all at its end.
    func startWriteback() {
        var descriptor: Int32 = -1
        guard mdb_env_get_fd(pointer, &descriptor) == 0, descriptor >= 0 else { return }
        _ = storesync_start_writeback(descriptor)
    }

    /// Writes every committed transaction to the disk.
    func flush() throws {
        try StoreError.check(mdb_env_sync(pointer, 1), "flush")
    }

    /// The current map size in bytes.
    var currentMapSize: Int { resizeLock.withShared { mapSize } }

    private func grow() throws {
        let maximum = configuration.effectiveMaximumMapSize
        // A map at its maximum cannot grow: say so at once, rather than wait for every open
        // reader to leave (the exclusive lock) only to find that out.
        let current = resizeLock.withShared { mapSize }
        guard current < maximum else { throw StoreError.mapFull(mapSize: current, maximumMapSize: maximum) }
        try resizeLock.withExclusive { () throws in
            guard mapSize < maximum else {
                throw StoreError.mapFull(mapSize: mapSize, maximumMapSize: maximum)
            }
            let next = min(maximum, max(mapSize * 2, mapSize + (64 << 20)))
            try StoreError.check(mdb_env_set_mapsize(pointer, next), "grow map to \(next)")
            mapSize = next
        }
    }

    /// Begins a transaction; throws `MapResized` when another process grew the map, so that the
    /// caller can adopt the new size with no transaction of this process open.
    private func begin(readOnly: Bool) throws -> LMDBTransaction {
        var txn: OpaquePointer?
        let code = mdb_txn_begin(pointer, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn)
        if code == MDB_MAP_RESIZED { throw MapResized() }
        try StoreError.check(code, readOnly ? "begin read" : "begin write")
        guard let txn else { throw StoreError.lmdb(code: -1, operation: "begin", message: "no transaction") }
        return LMDBTransaction(pointer: txn, isReadOnly: readOnly)
    }

    private func adoptResizedMap() throws {
        try resizeLock.withExclusive { () throws in
            try StoreError.check(mdb_env_set_mapsize(pointer, 0), "adopt resized map")
            var info = MDB_envinfo()
            try StoreError.check(mdb_env_info(pointer, &info), "env info")
            mapSize = max(mapSize, info.me_mapsize)
        }
    }
}
