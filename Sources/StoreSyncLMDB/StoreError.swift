import CLMDB
import Glibc

/// A failure of the LMDB store, with what was being done when it happened.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// LMDB returned an error code.
    case lmdb(code: Int32, operation: String, message: String)
    /// The map reached its configured maximum size; nothing of the failed write was kept.
    case mapFull(mapSize: Int, maximumMapSize: Int)
    /// The path holds something that is not a StoreSync store (a foreign or damaged file).
    case notAStore(path: String, reason: String)
    /// The data file is shorter than its own header says: it was truncated.
    case truncatedDataFile(path: String, fileSize: Int, expectedAtLeast: Int)
    /// The store was written by an incompatible version of the on-disk format.
    case unsupportedFormat(found: String, expected: String)
    /// A record on disk does not decode; the store is damaged.
    case corruptRecord(what: String, detail: String)
    /// A message cannot be stored (no sync key, meta too long).
    case invalidMessage(String)
    /// A limit given to the store is out of range.
    case invalidConfiguration(String)
    /// A request to the store is out of range (the caller's input, not the store, is wrong).
    case invalidRequest(String)
    /// The store is closing: its threads take no more work.
    case closed
    /// A scratch file of a bulk load could not be written or read.
    case scratchFile(path: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .lmdb(let code, let operation, let message): "LMDB error \(code) during \(operation): \(message)"
        case .mapFull(let size, let maximum):
            "the store is full: map size \(size) bytes reached its maximum of \(maximum) bytes"
        case .notAStore(let path, let reason): "\(path) is not a StoreSync store: \(reason)"
        case .truncatedDataFile(let path, let size, let expected):
            "\(path) is truncated: \(size) bytes, but its header needs at least \(expected)"
        case .unsupportedFormat(let found, let expected):
            "store format \(found) is not supported (expected \(expected))"
        case .corruptRecord(let what, let detail): "corrupt \(what) on disk: \(detail)"
        case .invalidMessage(let reason): "invalid message: \(reason)"
        case .invalidConfiguration(let reason): "invalid store configuration: \(reason)"
        case .invalidRequest(let reason): "invalid request to the store: \(reason)"
        case .closed: "the store is closed"
        case .scratchFile(let path, let operation, let code):
            "scratch file \(path): \(operation) failed: \(String(cString: strerror(code)))"
        }
    }

    static func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(StoreError) {
        guard code != 0 else { return }
        throw .lmdb(code: code, operation: operation(), message: String(cString: mdb_strerror(code)))
    }
}
