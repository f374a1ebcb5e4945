import CStoreSyncABI
import StoreSyncCore
import StoreSyncLMDB

@_cdecl("storesync_memory_new")
public func cMemoryNew(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ error: ErrorOut) -> storesync_status {
    exported(error) {
        try Handles.output(out, "out") { StorageHandle(.memory(StorageHandle.MemoryKeys())) }
    }
}

/// The keys of a memory storage that still takes changes.
private func unsealed(_ handle: OpaquePointer?) throws -> StorageHandle.MemoryKeys {
    let storage = try Handles.get(handle, as: StorageHandle.self, "storage")
    guard case .memory(let keys) = storage.kind else { throw CFailure.state("the storage is not in memory") }
    guard keys.sealed == nil else { throw CFailure.state("the storage is sealed") }
    return keys
}

@_cdecl("storesync_memory_insert")
public func cMemoryInsert(
    _ storage: OpaquePointer?, _ timestamp: UInt64, _ id: UnsafePointer<UInt8>?, _ length: Int, _ error: ErrorOut
) -> storesync_status {
    exported(error) {
        let keys = try unsealed(storage)
        keys.pending.insert(try syncKey(timestamp, id, length))
    }
}

@_cdecl("storesync_memory_erase")
public func cMemoryErase(
    _ storage: OpaquePointer?, _ timestamp: UInt64, _ id: UnsafePointer<UInt8>?, _ length: Int, _ error: ErrorOut
) -> storesync_status {
    exported(error) {
        let keys = try unsealed(storage)
        keys.pending.remove(try syncKey(timestamp, id, length))
    }
}

@_cdecl("storesync_memory_seal")
public func cMemorySeal(_ storage: OpaquePointer?, _ error: ErrorOut) -> storesync_status {
    exported(error) {
        let keys = try unsealed(storage)
        keys.sealed = SortedKeyStorage(uniqueSortedKeys: keys.pending.sorted())
        keys.pending = []
    }
}

@_cdecl("storesync_store_open")
public func cStoreOpen(
    _ directory: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?, _ error: ErrorOut
) -> storesync_status {
    exported(error) {
        let path = try string(directory, "directory")
        try Handles.output(out, "out") { StoreHandle(try MessageStore(StoreConfiguration(directory: path))) }
    }
}

@_cdecl("storesync_store_close")
public func cStoreClose(_ store: OpaquePointer?) {
    Handles.release(store)
}

/// A key index name argument: not empty.
private func indexName(_ pointer: UnsafePointer<CChar>?) throws -> String {
    let name = try string(pointer, "index")
    guard !name.isEmpty else { throw CFailure.invalid("an index name is not empty") }
    return name
}

@_cdecl("storesync_store_insert_keys")
public func cStoreInsertKeys(
    _ store: OpaquePointer?, _ index: UnsafePointer<CChar>?, _ timestamps: UnsafePointer<UInt64>?,
    _ ids: UnsafePointer<UInt8>?, _ count: Int, _ inserted: UnsafeMutablePointer<UInt64>?, _ error: ErrorOut
) -> storesync_status {
    exported(error) {
        let handle = try Handles.get(store, as: StoreHandle.self, "store")
        let name = try indexName(index)
        var keys: [SyncKey] = []
        if count > 0 {
            guard let timestamps else { throw CFailure.null("timestamps") }
            guard let ids else { throw CFailure.null("ids") }
            keys.reserveCapacity(count)
            for position in 0..<count { keys.append(try syncKey(timestamps[position], ids + position * 32, 32)) }
        }
        let added = try handle.store.insertKeys(keys, index: name)
        inserted?.pointee = UInt64(added)
    }
}

@_cdecl("storesync_store_count")
public func cStoreCount(
    _ store: OpaquePointer?, _ index: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<UInt64>?, _ error: ErrorOut
) -> storesync_status {
    exported(error) {
        let handle = try Handles.get(store, as: StoreHandle.self, "store")
        let name = try indexName(index)
        guard let out else { throw CFailure.null("out") }
        out.pointee = UInt64(try handle.store.withKeyIndexSnapshot(index: name) { try $0.count() })
    }
}

@_cdecl("storesync_store_index")
public func cStoreIndex(
    _ store: OpaquePointer?, _ index: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?,
    _ error: ErrorOut
) -> storesync_status {
    exported(error) {
        let handle = try Handles.get(store, as: StoreHandle.self, "store")
        let name = try indexName(index)
        try Handles.output(out, "out") { StorageHandle(.lmdbIndex(handle, name)) }
    }
}

@_cdecl("storesync_subrange_new")
public func cSubrangeNew(
    _ base: OpaquePointer?, _ start: UInt64, _ end: UInt64, _ out: UnsafeMutablePointer<OpaquePointer?>?,
    _ error: ErrorOut
) -> storesync_status {
    exported(error) {
        let storage = try Handles.get(base, as: StorageHandle.self, "base")
        guard start <= end else { throw CFailure.invalid("a window ends at or after its start") }
        try Handles.output(out, "out") { StorageHandle(.window(storage, start..<end)) }
    }
}

@_cdecl("storesync_storage_count")
public func cStorageCount(_ storage: OpaquePointer?, _ out: UnsafeMutablePointer<UInt64>?, _ error: ErrorOut)
    -> storesync_status
{
    exported(error) {
        let handle = try Handles.get(storage, as: StorageHandle.self, "storage")
        guard let out else { throw CFailure.null("out") }
        out.pointee = UInt64(try handle.withNegentropyStorage { try $0.count() })
    }
}

@_cdecl("storesync_storage_free")
public func cStorageFree(_ storage: OpaquePointer?) {
    Handles.release(storage)
}
