import Foundation
import StoreSyncCore
import StoreSyncLMDB

// store-bench: the LMDB key index's figures.
//   store-bench [--n 10000000] [--batch 100000] [--singles 100000] [--samples 100000] [--order time|random]
// Builds a key-only index of N keys in batches (one write transaction each), then measures single-key
// inserts in their own transactions (no fsync), then count + fingerprint of random key ranges.

var n = 10_000_000
var batch = 100_000
var singles = 100_000
var samples = 100_000
var order = "time"
var writeMap = false
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    guard let value = arguments.next() else { break }
    switch flag {
    case "--n": n = Int(value) ?? n
    case "--batch": batch = Int(value) ?? batch
    case "--singles": singles = Int(value) ?? singles
    case "--samples": samples = Int(value) ?? samples
    case "--order": order = value
    case "--write-map": writeMap = value == "true"
    default:
        FileHandle.standardError.write(Data("store-bench: unknown flag \(flag)\n".utf8))
        exit(2)
    }
}

extension SplitMix64 {
    mutating func key(timestamp: UInt64) -> SyncKey { SyncKey(timestamp: timestamp, hash: hash()) }
}

func peakResidentMB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Resident memory that is not file-backed (heap, stacks): what the process costs beyond the
/// page cache that the LMDB map shares with the kernel.
func anonymousResidentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("RssAnon:") {
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
    }
    return 0
}

let directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-bench-\(getpid())").path
defer { try? FileManager.default.removeItem(atPath: directory) }
let store = try MessageStore(
    StoreConfiguration(directory: directory, initialMapSize: 4 << 30, durability: .noSync, writeMap: writeMap))
let clock = ContinuousClock()
var rng = SplitMix64(seed: 11)
var timestamp: UInt64 = 1_700_000_000_000_000_000

// 1. Batch ingest up to n keys.
var built = 0
var lastBatchRate = 0.0
let buildStart = clock.now
while built < n {
    let size = min(batch, n - built)
    var keys = [SyncKey]()
    keys.reserveCapacity(size)
    for _ in 0..<size {
        if order == "random" {
            keys.append(rng.key(timestamp: timestamp + rng.next() % 3_600_000_000_000))
        } else {
            timestamp += 1 + rng.next() % 1_000_000
            keys.append(rng.key(timestamp: timestamp))
        }
    }
    keys.sort()
    let start = clock.now
    try store.insertKeys(keys, index: "bench")
    lastBatchRate = Double(size) / (clock.now - start).seconds
    built += size
}
let buildSeconds = (clock.now - buildStart).seconds
print(
    String(
        format:
            "batch ingest (%@ order, batches of %d): %d keys in %.2f s = %.2fM keys/s overall; last batch at %dM: %.2fM keys/s",
        order, batch, n, buildSeconds, Double(n) / buildSeconds / 1e6, n / 1_000_000, lastBatchRate / 1e6))

// 2. Single-key inserts, each its own write transaction (no fsync).
let singleStart = clock.now
for _ in 0..<singles {
    try store.insertKeys([rng.key(timestamp: timestamp - rng.next() % 1_000_000_000_000)], index: "bench")
}
let singleSeconds = (clock.now - singleStart).seconds
print(
    String(
        format: "single-key inserts, one transaction each, into %dM: %.0f inserts/s", n / 1_000_000,
        Double(singles) / singleSeconds))

// 3. Count + fingerprint of random key ranges.
let hasher = SHA256Hasher()
let first = timestamp - (timestamp - 1_700_000_000_000_000_000)
var latencies = [Double]()
latencies.reserveCapacity(samples)
var checksum: UInt64 = 0
try store.withKeyIndexSnapshot(index: "bench") { snapshot in
    let count = try snapshot.count()
    for _ in 0..<samples {
        let a = first + rng.next() % (timestamp - first)
        let b = first + rng.next() % (timestamp - first)
        let start = clock.now
        let lower = try snapshot.lowerBound(of: SyncKey(timestamp: min(a, b)), in: 0..<count)
        let upper = try snapshot.lowerBound(of: SyncKey(timestamp: max(a, b)), in: lower..<count)
        let fingerprint = try snapshot.fingerprint(of: lower..<upper, hasher: hasher)
        latencies.append((clock.now - start).seconds * 1e6)
        checksum ^= fingerprint.high
    }
}
latencies.sort()
let sorted = latencies
func percentile(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
print(
    String(
        format: "range count + fingerprint at %dM keys: median %.1f us, p99 %.1f us (%d samples, checksum %llx)",
        n / 1_000_000, percentile(0.5), percentile(0.99), samples, checksum))
print(
    String(
        format: "peak resident memory: %.0f MB (with the mapped file); anonymous now: %d MB", peakResidentMB(),
        anonymousResidentBytes() >> 20))
