import StoreSyncCore
import Testing

@testable import StoreSyncNode

@Suite struct FetchQueueTests {
    /// Replies that cover a random prefix of each batch, with up to two batches in flight as the
    /// client keeps them: every hash is asked for until a reply covers it, exactly once covered,
    /// and batches never grow past what a full reply held.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func everyHashIsCoveredOnce(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let need = (0..<Int.random(in: 1...5_000, using: &random)).map { _ in random.hash() }
        var queue = FetchQueue(need)
        var inFlight: [[MessageHash]] = []
        var covered: [MessageHash] = []
        var smallestFull = TransferRequest.maximumFetch
        while true {
            while inFlight.count < 2, let batch = queue.nextBatch() {
                #expect(!batch.isEmpty && batch.count <= smallestFull)
                inFlight.append(batch)
            }
            guard !inFlight.isEmpty else { break }
            let batch = inFlight.removeFirst()
            let considered = Bool.random(using: &random) ? batch.count : Int.random(in: 1...batch.count, using: &random)
            if considered < batch.count { smallestFull = min(smallestFull, considered) }
            covered += batch[..<considered]
            queue.answered(batch, considered: considered)
        }
        #expect(covered.count == need.count)
        #expect(Set(covered) == Set(need))
    }
}
