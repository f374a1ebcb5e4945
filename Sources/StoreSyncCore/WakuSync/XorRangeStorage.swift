/// What the store-sync engine asks of storage: counts, XOR fingerprints and keys of a key range
/// within a topic scope, the range given by its bounds, both included. An implementation
/// answers every call of one engine step from one consistent snapshot.
public protocol XorRangeStorage {
    /// The number of keys in scope from `lower` through `upper`.
    func count(from lower: SyncKey, through upper: SyncKey, in scope: SyncScope) throws -> Int

    /// The XOR of the hashes of the keys in scope from `lower` through `upper` (all zero for
    /// none).
    func xor(from lower: SyncKey, through upper: SyncKey, in scope: SyncScope) throws -> MessageHash

    /// The keys in scope from `lower` through `upper`, in order, at most `limit` of them.
    func keys(from lower: SyncKey, through upper: SyncKey, in scope: SyncScope, limit: Int) throws -> [SyncKey]
}
