/// Something that hands out a consistent view of a key set for the duration of one call: a store
/// gives one read snapshot per reconciliation message, so that ingest can go on between them.
public protocol SnapshotSource {
    /// Runs `body` with a storage view that does not change while it runs.
    func withSnapshot<T>(_ body: (any ReconciliationStorage) throws -> T) throws -> T
}

extension SortedKeyStorage: SnapshotSource {
    /// The storage is immutable, so it is its own snapshot.
    public func withSnapshot<T>(_ body: (any ReconciliationStorage) throws -> T) throws -> T {
        try body(self)
    }
}
