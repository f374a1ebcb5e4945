import StoreSyncCore

/// The hashes a fetch still has to ask for, in batches sized by what the peer's replies hold: a
/// reply that fills its frame covers only a prefix of its batch, and the rest is asked for again
/// before anything new.
struct FetchQueue {
    private let need: [MessageHash]
    private var next = 0
    /// Hashes a full reply left out, asked for first.
    private var rest: [MessageHash] = []
    /// The largest batch asked for next: the most a full reply held so far.
    private(set) var batchSize = TransferRequest.maximumFetch

    init(_ need: [MessageHash]) {
        self.need = need
    }

    /// The next batch to ask for; nil when every hash was asked for.
    mutating func nextBatch() -> [MessageHash]? {
        if !rest.isEmpty {
            let batch = Array(rest.prefix(batchSize))
            rest.removeFirst(batch.count)
            return batch
        }
        guard next < need.count else { return nil }
        let batch = Array(need[next..<min(need.count, next + batchSize)])
        next += batch.count
        return batch
    }

    /// Takes note of a reply to `batch` that covered its first `considered` hashes.
    mutating func answered(_ batch: [MessageHash], considered: Int) {
        guard considered < batch.count else { return }
        rest.insert(contentsOf: batch[considered...], at: 0)
        batchSize = max(1, min(batchSize, considered))
    }
}
