import StoreSyncCore

/// Reconciliation methods Negentropy is compared with, run on the same key sets and counted the
/// same way: bytes each way, round trips, the ids each side lacks.
enum Baseline {
    /// The baselines' names on the command line.
    static let names: Set<String> = ["full-ids", "xor-partitions"]

    /// The initiator sends every id it holds (32 bytes each, after a 4-byte count); the responder
    /// answers with the ids the initiator lacks and those it lacks itself. One round trip.
    static func fullIds(local: [SyncKey], remote: [SyncKey]) -> InProcessSession.Outcome {
        let remoteSet = Set(remote.map(\.hash))
        let localSet = Set(local.map(\.hash))
        var outcome = InProcessSession.Outcome()
        outcome.have = local.map(\.hash).filter { !remoteSet.contains($0) }
        outcome.need = remote.map(\.hash).filter { !localSet.contains($0) }
        outcome.rounds = 1
        outcome.bytesUp = 4 + 32 * local.count
        outcome.bytesDown = 8 + 32 * (outcome.have.count + outcome.need.count)
        return outcome
    }

    /// How the reference Waku node syncs: the time span is cut into `partitions` equal parts,
    /// each summarised by the XOR of its hashes and its count, computed by a linear scan; a part
    /// whose summaries differ is cut again the same way in the next round, and a part where the
    /// initiator holds at most `threshold` ids is settled by sending them. Per part the initiator
    /// sends its bounds (16 bytes) and either the summary (32 + 4 bytes) or its ids (4 + 32 each);
    /// the responder answers a summary with one byte (same or differs) and an id list with the
    /// ids each side lacks (4 + 32 each).
    static func xorPartitions(local: [SyncKey], remote: [SyncKey], partitions: Int = 8, threshold: Int = 100)
        -> InProcessSession.Outcome
    {
        var outcome = InProcessSession.Outcome()
        let lowest = min(local.first?.timestamp ?? .max, remote.first?.timestamp ?? .max)
        let highest = max(local.last?.timestamp ?? 0, remote.last?.timestamp ?? 0)
        guard lowest <= highest else { return outcome }
        var pending: [Range<UInt64>] = [lowest..<(highest + 1)]
        while !pending.isEmpty {
            outcome.rounds += 1
            var next: [Range<UInt64>] = []
            for range in pending {
                let mine = slice(local, range)
                let theirs = slice(remote, range)
                outcome.bytesUp += 16
                if mine.count <= threshold || range.count <= 1 {
                    outcome.bytesUp += 4 + 32 * mine.count
                    let mineSet = Set(mine.map(\.hash))
                    let theirSet = Set(theirs.map(\.hash))
                    let have = mine.map(\.hash).filter { !theirSet.contains($0) }
                    let need = theirs.map(\.hash).filter { !mineSet.contains($0) }
                    outcome.have += have
                    outcome.need += need
                    outcome.bytesDown += 8 + 32 * (have.count + need.count)
                    continue
                }
                outcome.bytesUp += 36
                outcome.bytesDown += 1
                guard summary(mine) != summary(theirs) else { continue }
                let width = max(1, (UInt64(range.count) + UInt64(partitions) - 1) / UInt64(partitions))
                var start = range.lowerBound
                while start < range.upperBound {
                    let end = start + min(width, range.upperBound - start)
                    next.append(start..<end)
                    start = end
                }
            }
            pending = next
        }
        return outcome
    }

    /// The keys with timestamps in `range` (keys sorted by timestamp).
    private static func slice(_ keys: [SyncKey], _ range: Range<UInt64>) -> ArraySlice<SyncKey> {
        func lowerBound(_ timestamp: UInt64) -> Int {
            var low = 0
            var high = keys.count
            while low < high {
                let middle = (low + high) / 2
                if keys[middle].timestamp < timestamp { low = middle + 1 } else { high = middle }
            }
            return low
        }
        return keys[lowerBound(range.lowerBound)..<lowerBound(range.upperBound)]
    }

    /// XOR of the hashes and the count: a linear scan.
    private static func summary(_ keys: ArraySlice<SyncKey>) -> [UInt64] {
        var words: [UInt64] = [0, 0, 0, 0, UInt64(keys.count)]
        for key in keys {
            words[0] ^= key.hash.word0
            words[1] ^= key.hash.word1
            words[2] ^= key.hash.word2
            words[3] ^= key.hash.word3
        }
        return words
    }
}
