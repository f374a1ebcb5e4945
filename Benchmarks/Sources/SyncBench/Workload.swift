import StoreSyncCore

/// Two key sets that share all but `d` keys, half of the differences on each side, with
/// timestamps spread like a message stream (one key every 3.6 ms on average over the span).
struct Workload {
    let local: [SyncKey]
    let remote: [SyncKey]

    init(n: Int, d: Int, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let localOnly = d / 2
        let remoteOnly = d - localOnly
        let common = max(0, n - max(localOnly, remoteOnly))
        let total = common + localOnly + remoteOnly
        var keys = [SyncKey]()
        keys.reserveCapacity(total)
        var timestamp: UInt64 = 1_700_000_000_000_000_000
        for _ in 0..<total {
            timestamp += rng.next() % 7_200_000
            keys.append(SyncKey(timestamp: timestamp, hash: rng.hash()))
        }
        // Pick which keys are one-sided by a shuffle, so differences are spread over the span.
        var order = Array(0..<total)
        order.shuffle(using: &rng)
        var side = [UInt8](repeating: 0, count: total)
        for index in order.prefix(localOnly) { side[index] = 1 }
        for index in order.dropFirst(localOnly).prefix(remoteOnly) { side[index] = 2 }
        local = zip(keys, side).filter { $0.1 != 2 }.map(\.0)
        remote = zip(keys, side).filter { $0.1 != 1 }.map(\.0)
    }

    /// The workload of the C API example's `bench` (examples/c): the same generator, so that
    /// the boundary's cost is the difference of the two timings. Keys as above; the `d`
    /// one-sided keys sit at even intervals, alternately on each side.
    init(alternating n: Int, d: Int) {
        var rng = SplitMix64(seed: 1)
        let total = n + d - d / 2
        var timestamp: UInt64 = 1_700_000_000_000_000_000
        var local = [SyncKey]()
        var remote = [SyncKey]()
        var nextOneSided = 0
        var oneSided = 0
        for index in 0..<total {
            timestamp += rng.next() % 7_200_000
            let key = SyncKey(timestamp: timestamp, hash: rng.hash())
            var side = 0
            if oneSided < d && index == nextOneSided {
                side = oneSided % 2 == 0 ? 1 : 2
                oneSided += 1
                nextOneSided = oneSided * total / max(d, 1)
            }
            if side != 2 { local.append(key) }
            if side != 1 { remote.append(key) }
        }
        self.local = local
        self.remote = remote
    }
}
