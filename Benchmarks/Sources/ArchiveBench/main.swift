import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncPostgres

// archive-bench: the node's archives side by side on the same messages, through `MessageArchive`.
//   archive-bench --archive lmdb|postgres [--url postgres://…/db] [--n 1000000] [--payload 200]
//                 [--hours 24] [--queries 2000] [--cap] [--rebuild-only]
// 1. Ingest: --n messages of --payload bytes over --hours hours, 8 content topics, 2 pubsub
//    topics, in calls of 5 000, two calls in flight (as a node's transfers and imports overlap).
// 2. Store v3 queries on the full archive: by content topic and a one-hour time range (a page of
//    20 with data, as a Waku client asks), and by 20 hashes; p50 and p99 of --queries each.
// 3. PostgreSQL only: the key index rebuilt from the archive (index deleted, archive reopened).
// 4. PostgreSQL only, with --cap: the archive put under a size cap of half its size: the pass
//    that brings it there, then --n / 10 newer messages ingested under the cap, the largest size
//    seen after each call, and the dead tuples left.
// --rebuild-only: the database already holds an archive (of an earlier run): only step 3.
// The LMDB store runs with full durability; the PostgreSQL server with its own settings.

var kind = "lmdb"
var url = ""
var n = 1_000_000
var payload = 200
var hours = 24
var queryCount = 2_000
var cap = false
var rebuildOnly = false
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    if flag == "--cap" {
        cap = true
        continue
    }
    if flag == "--rebuild-only" {
        rebuildOnly = true
        continue
    }
    guard let value = arguments.next() else { break }
    switch flag {
    case "--archive": kind = value
    case "--url": url = value
    case "--n": n = Int(value) ?? n
    case "--payload": payload = Int(value) ?? payload
    case "--hours": hours = Int(value) ?? hours
    case "--queries": queryCount = Int(value) ?? queryCount
    default:
        FileHandle.standardError.write(Data("archive-bench: unknown flag \(flag)\n".utf8))
        exit(2)
    }
}

let start: UInt64 = 1_699_999_200_000_000_000
let hour: UInt64 = 3_600_000_000_000
let span = UInt64(hours) * hour
let payloadSize = payload

/// Message `index` of `count` spread over the span from `origin`: the same for both archives.
@MainActor func message(_ index: Int, of count: Int, origin: UInt64, seed: UInt64) throws -> WakuMessage {
    var rng = SplitMix64(seed: seed &+ UInt64(index))
    return try WakuMessage(
        pubsubTopic: "/waku/2/rs/0/\(index % 2)", contentTopic: "/bench/1/c\(index % 8)/proto",
        payload: (0..<payloadSize).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
        timestamp: Int64(origin + UInt64(index) * (span / UInt64(count)) + rng.next() % 1_000))
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.attoseconds) / 1e15 + Double(duration.components.seconds) * 1e3
}

let directory = FileManager.default.temporaryDirectory.appendingPathComponent("archive-bench-\(getpid())").path
defer { try? FileManager.default.removeItem(atPath: directory) }

@MainActor func open(retention: RetentionPolicy = .none) async throws -> any MessageArchive {
    if kind == "postgres" {
        var configuration = try PostgresArchiveConfiguration(
            url: url, index: StoreConfiguration(directory: directory + "/index"), retention: retention)
        configuration.operationTimeout = 600
        return try await PostgresArchive.open(configuration, now: start)
    }
    return try MessageStore(StoreConfiguration(directory: directory + "/store", retention: retention))
}

/// Ingests `count` messages from `origin` in calls of 5 000, two in flight; returns messages a
/// second and, when `measure` is given, the largest value it returned after each call.
@MainActor func ingest(
    into archive: any MessageArchive, count: Int, origin: UInt64, seed: UInt64,
    measure: (@Sendable () async throws -> Int)? = nil
) async throws -> (rate: Double, largest: Int) {
    let began = ContinuousClock.now
    var largest = 0
    var pending: Task<Int, any Error>?
    for first in stride(from: 0, to: count, by: 5_000) {
        let batch = try (first..<min(count, first + 5_000)).map {
            try message($0, of: count, origin: origin, seed: seed)
        }
        let previous = pending
        pending = Task { try await archive.ingest(batch).stored }
        _ = try await previous?.value
        if let measure { largest = max(largest, try await measure()) }
    }
    _ = try await pending?.value
    if let measure { largest = max(largest, try await measure()) }
    return (Double(count) / (ContinuousClock.now - began).seconds, largest)
}

if rebuildOnly {
    let began = ContinuousClock.now
    let archive = try require(try await open() as? PostgresArchive)
    let seconds = (ContinuousClock.now - began).seconds
    let keys = try await archive.keyIndex.read { try $0.messageCount() }
    print(
        String(
            format: "  key index rebuilt from the archive: %d keys, %.2f s, %.0f keys/s", keys, seconds,
            Double(keys) / seconds))
    archive.close()
    // exit skips the deferred removal.
    try? FileManager.default.removeItem(atPath: directory)
    exit(0)
}

let archive = try await open()
print("archive-bench: \(kind), \(n) messages of \(payload) B over \(hours) h")
let (rate, _) = try await ingest(into: archive, count: n, origin: start, seed: 1)
print(String(format: "  ingest: %.0f msg/s", rate))

// Queries.
var rng = SplitMix64(seed: 99)
var byTopic: [Double] = []
var byHashes: [Double] = []
var returned = 0
for _ in 0..<queryCount {
    let from = start + rng.next() % (span - hour)
    // Content topic c is on pubsub topic c % 2, as `message` lays them out.
    let content = rng.next() % 8
    let query = ArchiveQuery(
        pubsubTopic: "/waku/2/rs/0/\(content % 2)", contentTopics: ["/bench/1/c\(content)/proto"],
        timeRange: from..<from + hour, cursor: nil, forward: rng.next() % 2 == 0, limit: 21)
    let began = ContinuousClock.now
    let hits = try await archive.queryKeys(query)
    let page = try await archive.messages(for: hits.prefix(20).map(\.key.hash))
    byTopic.append(milliseconds(ContinuousClock.now - began))
    returned += page.count
    let hashes = try (0..<20).map { _ in try message(Int(rng.next() % UInt64(n)), of: n, origin: start, seed: 1).hash }
    let hashBegan = ContinuousClock.now
    let found = try await archive.messages(for: hashes)
    byHashes.append(milliseconds(ContinuousClock.now - hashBegan))
    precondition(found.allSatisfy { $0 != nil }, "a stored message was not found")
}
byTopic.sort()
byHashes.sort()
print(
    String(
        format: "  query by content topic + 1 h (page of 20 with data): p50 %.2f ms, p99 %.2f ms (%d returned)",
        percentile(byTopic, 0.5), percentile(byTopic, 0.99), returned))
print(
    String(
        format: "  query by 20 hashes: p50 %.2f ms, p99 %.2f ms", percentile(byHashes, 0.5), percentile(byHashes, 0.99))
)

if let postgres = archive as? PostgresArchive {
    let size = try await postgres.diskBytes()
    print("  archive size: \(size / 1_048_576) MiB (\(size / n) B per message)")
    postgres.close()
    try FileManager.default.removeItem(atPath: directory + "/index")
    let began = ContinuousClock.now
    let reopened = try await open()
    let seconds = (ContinuousClock.now - began).seconds
    print(String(format: "  key index rebuilt from the archive: %.1f s, %.0f keys/s", seconds, Double(n) / seconds))
    if cap, let reopened = reopened as? PostgresArchive {
        reopened.close()
        let capBytes = size / 2
        let capped = try require(try await open(retention: RetentionPolicy(maximumBytes: capBytes)) as? PostgresArchive)
        let passBegan = ContinuousClock.now
        let report = try await capped.applyRetention(now: start + span)
        let pass = (ContinuousClock.now - passBegan).seconds
        let after = try await capped.diskBytes()
        print(
            String(
                format: "  size cap %d MiB: retention pass %.2f s, %d messages dropped, size after %d MiB",
                capBytes / 1_048_576, pass, report.bySize, after / 1_048_576))
        let (cappedRate, largest) = try await ingest(
            into: capped, count: n / 10, origin: start + span, seed: 2, measure: { try await capped.diskBytes() })
        print(
            String(
                format:
                    "  %d newer messages under the cap: %.0f msg/s, largest size seen %d MiB (cap %d MiB), dead tuples %d",
                n / 10, cappedRate, largest / 1_048_576, capBytes / 1_048_576, try await capped.deadTuples()))
        capped.close()
    } else {
        (reopened as? PostgresArchive)?.close()
    }
}

/// The value, or exit with a message.
func require<T>(_ value: T?) throws -> T {
    guard let value else {
        FileHandle.standardError.write(Data("archive-bench: not a PostgreSQL archive\n".utf8))
        exit(1)
    }
    return value
}
