import CStoreSyncABI
import StoreSyncCore
import StoreSyncLMDB

/// What an opaque handle of the C API points to: a retained Swift object.
enum Handles {
    static func make(_ object: AnyObject) -> OpaquePointer {
        OpaquePointer(Unmanaged.passRetained(object).toOpaque())
    }

    /// The object behind a handle, checked to be of `type`.
    static func get<T: AnyObject>(_ handle: OpaquePointer?, as type: T.Type, _ what: String) throws -> T {
        guard let handle else { throw CFailure.null(what) }
        let object = Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
        guard let typed = object as? T else { throw CFailure.state("\(what) is not a handle of that kind") }
        return typed
    }

    static func release(_ handle: OpaquePointer?) {
        guard let handle else { return }
        Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(handle)).release()
    }

    /// Writes a new handle to a non-NULL output.
    static func output(
        _ out: UnsafeMutablePointer<OpaquePointer?>?, _ what: String, _ make: () throws -> AnyObject
    ) throws {
        guard let out else { throw CFailure.null(what) }
        out.pointee = nil
        out.pointee = Handles.make(try make())
    }
}

/// The LMDB store behind a `storesync_store`.
final class StoreHandle {
    let store: MessageStore

    init(_ store: MessageStore) {
        self.store = store
    }
}

/// A Negentropy engine behind a `storesync_engine`.
final class EngineHandle {
    let reconciler: Reconciler

    init(_ reconciler: Reconciler) {
        self.reconciler = reconciler
    }
}

/// A store-sync engine behind a `storesync_waku_engine`.
final class WakuEngineHandle {
    var reconciler = StoreSyncReconciler()
}

/// A key from C arguments: a timestamp and a 32-byte id.
func syncKey(_ timestamp: UInt64, _ id: UnsafePointer<UInt8>?, _ length: Int) throws -> SyncKey {
    guard let id else { throw CFailure.null("id") }
    guard length == 32 else { throw CFailure.invalid("an id is 32 bytes, not \(length)") }
    guard let hash = MessageHash(bytes: UnsafeBufferPointer(start: id, count: 32)) else {
        throw CFailure.invalid("an id is 32 bytes")
    }
    return SyncKey(timestamp: timestamp, hash: hash)
}

/// A C string argument.
func string(_ pointer: UnsafePointer<CChar>?, _ what: String) throws -> String {
    guard let pointer else { throw CFailure.null(what) }
    return String(cString: pointer)
}
