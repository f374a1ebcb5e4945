import StoreSyncCore
import StoreSyncLMDB

/// A storage behind a `storesync_storage`: keys in memory, a key index of an LMDB store, or a
/// time window of another storage. It lends the engines a storage of the kind each reads.
final class StorageHandle {
    enum Kind {
        case memory(MemoryKeys)
        case lmdbIndex(StoreHandle, String)
        case window(StorageHandle, Range<UInt64>)
    }

    /// Keys being collected, then sealed into the sorted storage the engines read.
    final class MemoryKeys {
        var pending: Set<SyncKey> = []
        var sealed: SortedKeyStorage?
        private var xorCache: MemoryXorStorage?

        /// The sealed keys as the store-sync engine reads them, made when one first does; nil
        /// before the storage is sealed.
        var xor: MemoryXorStorage? {
            if xorCache == nil, let sealed {
                xorCache = MemoryXorStorage(sealed.keys.map { .init(key: $0, pubsubTopic: "", contentTopic: "") })
            }
            return xorCache
        }
    }

    let kind: Kind

    init(_ kind: Kind) {
        self.kind = kind
    }

    /// Runs `body` with this storage as Negentropy reads it.
    func withNegentropyStorage<T>(_ body: (any ReconciliationStorage) throws -> T) throws -> T {
        switch kind {
        case .memory(let keys):
            guard let sealed = keys.sealed else { throw CFailure.state("the storage is not sealed") }
            return try body(sealed)
        case .lmdbIndex(let store, let name):
            return try store.store.withKeyIndexSnapshot(index: name) { try body($0) }
        case .window(let base, let window):
            return try base.withNegentropyStorage { try Self.windowed($0, window, body) }
        }
    }

    private static func windowed<S: ReconciliationStorage, T>(
        _ storage: S, _ window: Range<UInt64>, _ body: (any ReconciliationStorage) throws -> T
    ) throws -> T {
        try body(try WindowedStorage(storage, window: window))
    }

    /// Runs `body` with this storage as the store-sync engine reads it (keys without topics).
    func withXorStorage<T>(_ body: (any XorRangeStorage) throws -> T) throws -> T {
        switch kind {
        case .memory(let keys):
            guard let sealed = keys.xor else { throw CFailure.state("the storage is not sealed") }
            return try body(sealed)
        case .lmdbIndex(let store, let name):
            return try store.store.withXorSnapshot(keyIndex: name) { try body($0) }
        case .window(let base, let window):
            return try base.withXorStorage { try body(WindowedXorStorage(base: $0, window: window)) }
        }
    }
}

/// A store-sync storage seen through a time window `[start, end)`.
struct WindowedXorStorage: XorRangeStorage {
    let base: any XorRangeStorage
    let window: Range<UInt64>

    private func clamp(_ lower: SyncKey, _ upper: SyncKey) -> (SyncKey, SyncKey)? {
        guard !window.isEmpty else { return nil }
        let low = max(lower, SyncKey(timestamp: window.lowerBound))
        let last = SyncKey(
            timestamp: window.upperBound - 1,
            hash: MessageHash(word0: .max, word1: .max, word2: .max, word3: .max))
        let high = min(upper, last)
        return low <= high ? (low, high) : nil
    }

    func count(from lower: SyncKey, through upper: SyncKey, in scope: SyncScope) throws -> Int {
        guard let (low, high) = clamp(lower, upper) else { return 0 }
        return try base.count(from: low, through: high, in: scope)
    }

    func xor(from lower: SyncKey, through upper: SyncKey, in scope: SyncScope) throws -> MessageHash {
        guard let (low, high) = clamp(lower, upper) else { return .zero }
        return try base.xor(from: low, through: high, in: scope)
    }

    func keys(from lower: SyncKey, through upper: SyncKey, in scope: SyncScope, limit: Int) throws -> [SyncKey] {
        guard let (low, high) = clamp(lower, upper) else { return [] }
        return try base.keys(from: low, through: high, in: scope, limit: limit)
    }
}
