/// The read-only view of an ordered key set that the reconciliation engine works on.
///
/// Items are addressed by their position in key order. An implementation answers every call
/// from one consistent snapshot for the duration of one engine call: the in-memory sorted array
/// trivially, LMDB through one read transaction.
public protocol ReconciliationStorage {
    /// The number of keys.
    func count() throws -> Int

    /// The key at a position, `0 ..< count()`.
    func key(at index: Int) throws -> SyncKey

    /// The position of the first key in `range` that is not below `key`, or `range.upperBound`.
    func lowerBound(of key: SyncKey, in range: Range<Int>) throws -> Int

    /// The sum of the ids of the keys at the positions in `range`.
    func accumulator(of range: Range<Int>) throws -> Accumulator

    /// Calls `body` on the keys at the positions in `range`, in order, until it returns false.
    func forEachKey(in range: Range<Int>, _ body: (SyncKey) throws -> Bool) throws
}

extension ReconciliationStorage {
    /// The fingerprint of the keys at the positions in `range`.
    public func fingerprint(of range: Range<Int>, hasher: SHA256Hasher) throws -> Fingerprint {
        Fingerprint(sum: try accumulator(of: range), count: range.count, hasher: hasher)
    }
}
