import Benchmark
import Foundation
import StoreSyncCore
import StoreSyncLMDB
import Synchronization

// Micro benchmarks of the hot paths, run by package-benchmark:
//   swift package --package-path Benchmarks benchmark
//   swift package --package-path Benchmarks benchmark baseline check default   (against the committed baseline)
// The range fingerprint at 10M keys runs when STORESYNC_BENCH_10M is set (its setup writes ~1 GB).

/// Keys spread like a message stream.
func streamKeys(_ count: Int, seed: UInt64) -> [SyncKey] {
    var rng = SplitMix64(seed: seed)
    var timestamp: UInt64 = 1_700_000_000_000_000_000
    return (0..<count).map { _ in
        timestamp += rng.next() % 7_200_000
        return SyncKey(timestamp: timestamp, hash: rng.hash())
    }
}

/// A key index of `count` keys in a temporary LMDB store.
final class IndexedStore: Sendable {
    let directory: String
    let store: MessageStore
    let count: Int
    /// Batches inserted so far: each gets keys of its own.
    let batches = Mutex(0)

    init(count: Int) throws {
        directory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("storesync-benchmark-\(getpid())-\(count)").path
        store = try MessageStore(
            StoreConfiguration(directory: directory, initialMapSize: 2 << 30, durability: .noSync))
        let keys = streamKeys(count, seed: UInt64(count))
        for start in stride(from: 0, to: count, by: 100_000) {
            try store.insertKeys(Array(keys[start..<min(count, start + 100_000)]), index: "bench")
        }
        self.count = count
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

func rangeFingerprint(_ benchmark: Benchmark, _ indexed: IndexedStore) throws {
    var rng = SplitMix64(seed: 3)
    try indexed.store.withKeyIndexSnapshot(index: "bench") { snapshot in
        for _ in benchmark.scaledIterations {
            let lower = Int(rng.next() % UInt64(indexed.count))
            let upper = lower + Int(rng.next() % UInt64(indexed.count - lower + 1))
            blackHole(try snapshot.accumulator(of: lower..<upper))
        }
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 3,
        scalingFactor: .one,
        maxDuration: .seconds(2),
        maxIterations: 100_000,
        thresholds: [.wallClock: .relaxed, .mallocCountTotal: .relaxed]
    )

    Benchmark("Message hash, 200-byte payload", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let message = try WakuMessage(
            pubsubTopic: "/waku/2/rs/0/0", contentTopic: "/bench/1/chat/proto",
            payload: Array(repeating: 7, count: 200),
            timestamp: 1_700_000_000_000_000_000)
        let hasher = SHA256Hasher()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(message.hash(using: hasher)) }
    }

    Benchmark("Fingerprint accumulation, 1 000 keys") { benchmark in
        let keys = streamKeys(1_000, seed: 1)
        let hasher = SHA256Hasher()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            var sum = Accumulator()
            for key in keys { sum.add(key.hash) }
            blackHole(Fingerprint(sum: sum, count: keys.count, hasher: hasher))
        }
    }

    let reply: @Sendable () throws -> [UInt8] = {
        // A responder's answer to an initiator whose set differs by 1 %: fingerprints and id lists.
        let all = streamKeys(100_000, seed: 2)
        let initiator = SortedKeyStorage(
            uniqueSortedKeys: all.enumerated().filter { $0.offset % 100 != 0 }.map(\.element))
        let responder = SortedKeyStorage(uniqueSortedKeys: all)
        let first = try Reconciler().initiate(initiator)
        return try Reconciler().respond(to: first, storage: responder)
    }

    Benchmark("Negentropy message decode, responder reply over 100k keys") {
        (benchmark: Benchmark, bytes: [UInt8]) in
        for _ in benchmark.scaledIterations { blackHole(try NegentropyMessage.decode(bytes)) }
    } setup: {
        try reply()
    }

    Benchmark("Negentropy message encode, responder reply over 100k keys") {
        (benchmark: Benchmark, message: NegentropyMessage) in
        for _ in benchmark.scaledIterations { blackHole(message.encoded()) }
    } setup: {
        guard case .message(let message) = try NegentropyMessage.decode(try reply()) else {
            throw BenchmarkSetupFailure(description: "the reply is not a Negentropy message")
        }
        return message
    }

    Benchmark("LMDB batch insert, 10 000 keys a transaction", configuration: .init(maxIterations: 200)) {
        (benchmark: Benchmark, indexed: IndexedStore) in
        for _ in benchmark.scaledIterations {
            let batch = indexed.batches.withLock { count -> Int in
                count += 1
                return count
            }
            let keys = streamKeys(10_000, seed: 1_000 + UInt64(batch))
            benchmark.startMeasurement()
            let inserted = try indexed.store.insertKeys(keys, index: "insert-\(batch % 8)")
            benchmark.stopMeasurement()
            guard inserted == keys.count else {
                throw BenchmarkSetupFailure(description: "batch \(batch) inserted \(inserted) of \(keys.count) keys")
            }
        }
        indexed.remove()
    } setup: {
        try IndexedStore(count: 0)
    }

    Benchmark("LMDB range fingerprint, 1M keys", configuration: .init(scalingFactor: .kilo)) {
        (benchmark: Benchmark, indexed: IndexedStore) in
        try rangeFingerprint(benchmark, indexed)
        indexed.remove()
    } setup: {
        try IndexedStore(count: 1_000_000)
    }

    // A peer's 5-byte message "my ids up to infinity: none", answered by a responder on LMDB
    // with the node's 1 MiB frame limit: the work must not grow with the keys held.
    for count in [2_000, 200_000] {
        Benchmark("Responder round, empty id list to infinity, \(count) keys") {
            (benchmark: Benchmark, indexed: IndexedStore) in
            try indexed.store.withKeyIndexSnapshot(index: "bench") { snapshot in
                for _ in benchmark.scaledIterations {
                    let responder = try Reconciler(frameSizeLimit: 1 << 20, policy: .adaptive)
                    blackHole(try responder.respond(to: [0x61, 0x00, 0x00, 0x02, 0x00], storage: snapshot))
                }
            }
            indexed.remove()
        } setup: {
            try IndexedStore(count: count)
        }
    }

    if ProcessInfo.processInfo.environment["STORESYNC_BENCH_10M"] != nil {
        Benchmark("LMDB range fingerprint, 10M keys", configuration: .init(scalingFactor: .kilo)) {
            (benchmark: Benchmark, indexed: IndexedStore) in
            try rangeFingerprint(benchmark, indexed)
            indexed.remove()
        } setup: {
            try IndexedStore(count: 10_000_000)
        }
    }
}

struct BenchmarkSetupFailure: Error, CustomStringConvertible {
    let description: String
}
