/// An in-memory, immutable, sorted set of sync keys with prefix sums of their ids, so that a range
/// fingerprint costs two lookups and a subtraction rather than a scan.
///
/// The storage used by tests, the conformance harness and nodes that keep small scopes in memory.
public struct SortedKeyStorage: ReconciliationStorage, Sendable {
    /// The keys, strictly ascending.
    public let keys: [SyncKey]
    /// `prefixSums[i]` is the sum of the ids of `keys[0..<i]`.
    private let prefixSums: [Accumulator]

    /// Creates the storage from keys in any order; duplicates are kept once.
    public init(_ unsortedKeys: some Sequence<SyncKey>) {
        var sorted = Array(unsortedKeys)
        sorted.sort()
        var unique = [SyncKey]()
        unique.reserveCapacity(sorted.count)
        for key in sorted where unique.last != key {
            unique.append(key)
        }
        self.init(uniqueSortedKeys: unique)
    }

    /// Creates the storage from keys already strictly ascending (checked).
    public init(uniqueSortedKeys keys: [SyncKey]) {
        var sums = [Accumulator]()
        sums.reserveCapacity(keys.count + 1)
        var running = Accumulator()
        sums.append(running)
        for (index, key) in keys.enumerated() {
            precondition(index == 0 || keys[index - 1] < key, "keys must be strictly ascending")
            running.add(key.hash)
            sums.append(running)
        }
        self.keys = keys
        self.prefixSums = sums
    }

    public func count() -> Int { keys.count }

    public func key(at index: Int) -> SyncKey { keys[index] }

    public func lowerBound(of key: SyncKey, in range: Range<Int>) -> Int {
        firstIndex(in: range) { keys[$0] >= key }
    }

    public func accumulator(of range: Range<Int>) -> Accumulator {
        prefixSums[range.upperBound].subtracting(prefixSums[range.lowerBound])
    }

    public func forEachKey(in range: Range<Int>, _ body: (SyncKey) throws -> Bool) rethrows {
        for index in range where try !body(keys[index]) {
            return
        }
    }

    /// Checks that keys are strictly ascending and every prefix sum matches a recomputation.
    public func _checkInvariants() {
        precondition(prefixSums.count == keys.count + 1, "one prefix sum per key plus the empty one")
        var running = Accumulator()
        precondition(prefixSums[0] == running, "the empty prefix sums to zero")
        for (index, key) in keys.enumerated() {
            precondition(index == 0 || keys[index - 1] < key, "keys not strictly ascending at \(index)")
            running.add(key.hash)
            precondition(prefixSums[index + 1] == running, "prefix sum wrong at \(index + 1)")
        }
    }
}
