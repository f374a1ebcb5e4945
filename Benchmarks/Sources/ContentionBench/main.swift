import Foundation
import Logging
import NIOCore
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncProto
import Synchronization

// contention-bench: a node under write load, with full durability, and what a well-behaved client
// sees meanwhile.
//   contention-bench [--messages 1000000] [--old 1000000] [--d 100] [--seconds 20]
//                    [--connections 64] [--tasks 1024] [--payload 200]
// The node's store holds --messages recent messages and --old messages past its age limit. Idle,
// then under load, it measures: Store v3 query latency of one client at 50 queries/s, and a sync
// with a peer store holding the same recent messages but --d of them (a copy of the peer store for
// each run). The load, each alone and then together, for --seconds: single-message pushes back
// to back on --connections connections, and single-message ingests through the store API from
// --tasks tasks; together, retention also prunes the old messages.

var recent = 1_000_000
var old = 1_000_000
var differences = 100
var seconds = 20.0
var connections = 64
var tasks = 1_024
var payloadSize = 200
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    guard let value = arguments.next(), let number = Double(value) else { break }
    switch flag {
    case "--messages": recent = Int(number)
    case "--old": old = Int(number)
    case "--d": differences = Int(number)
    case "--seconds": seconds = number
    case "--connections": connections = Int(number)
    case "--tasks": tasks = Int(number)
    case "--payload": payloadSize = Int(number)
    default:
        FileHandle.standardError.write(Data("contention-bench: unknown flag \(flag)\n".utf8))
        exit(2)
    }
}

let topic = "/waku/2/rs/0/0"
let recentCount = recent
let connectionCount = connections
let taskCount = tasks
let now = WallClock.nanoseconds()
let hour: UInt64 = 3_600_000_000_000
let size = payloadSize

let template: [UInt8] = {
    var rng = SplitMix64(seed: 42)
    return (0..<max(16, size)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
}()

/// Message `index` of a stream starting at `start`, one every 10 µs: random-looking payloads
/// that cost the load generator next to nothing (a fixed template, its first 16 bytes the seed and
/// the index).
func message(_ index: Int, start: UInt64, seed: UInt64) throws -> WakuMessage {
    var payload = template
    withUnsafeBytes(of: (seed, UInt64(index))) { payload.replaceSubrange(0..<16, with: $0) }
    return try WakuMessage(
        pubsubTopic: topic, contentTopic: "/bench/1/c\(index % 8)/proto", payload: payload,
        timestamp: Int64(start + UInt64(index) * 10_000))
}

func fill(_ store: MessageStore, count: Int, start: UInt64, seed: UInt64, skip: (Int) -> Bool = { _ in false }) throws {
    for batch in stride(from: 0, to: count, by: 50_000) {
        let messages = try (batch..<min(count, batch + 50_000)).filter { !skip($0) }.map {
            try message($0, start: start, seed: seed)
        }
        _ = try store.ingest(messages)
    }
}

func percentiles(_ samples: [Double]) -> String {
    let sorted = samples.sorted()
    guard !sorted.isEmpty else { return "no samples" }
    func at(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] * 1_000 }
    return String(format: "p50 %.2f ms, p99 %.2f ms (%d samples)", at(0.5), at(0.99), sorted.count)
}

let base = FileManager.default.temporaryDirectory.appendingPathComponent("contention-bench-\(getpid())").path
defer { try? FileManager.default.removeItem(atPath: base) }
let recentStart = now - 2 * hour
let oldStart = now - 100 * hour
let clock = ContinuousClock()
let setup = clock.now
do {
    let node = try MessageStore(
        StoreConfiguration(directory: base + "/node", initialMapSize: 4 << 30, durability: .noSync))
    try fill(node, count: old, start: oldStart, seed: 1)
    try fill(node, count: recent, start: recentStart, seed: 2)
    // The peer lacks some: each sync fetches them from the node, whose set stays as it was.
    let peer = try MessageStore(
        StoreConfiguration(directory: base + "/peer", initialMapSize: 4 << 30, durability: .noSync))
    try fill(peer, count: recent, start: recentStart, seed: 2, skip: { $0 % (recent / max(1, differences)) == 0 })
}
for copy in ["peer-idle", "peer-loaded"] {
    try FileManager.default.copyItem(atPath: base + "/peer", toPath: base + "/" + copy)
}
print(
    String(
        format: "setup: %d old + %d recent messages of %d B, peer %d, in %.0f s", old, recent, size, recent,
        (clock.now - setup).seconds))

var quiet = Logger(label: "contention-bench")
quiet.logLevel = .critical
let store = try MessageStore(
    StoreConfiguration(
        directory: base + "/node", initialMapSize: 4 << 30, retention: RetentionPolicy(maximumAgeSeconds: 50 * 3_600)))
var configuration = NodeConfiguration(port: 0, allowPush: true, rateLimits: .none)
configuration.plaintextListener = true
configuration.maximumConnections = 4_096
configuration.maximumConnectionsPerPeer = 4_096
configuration.bandwidthPerPeer = nil
let node = try await StoreNode.bind(store: store, configuration: configuration, logger: quiet)
let serving = Task { try await node.serve() }
let client = NodeClient(host: "127.0.0.1", port: node.port)

/// Queries at 50 a second until `stop`; returns their latencies in seconds.
func politeQueries(until stop: ContinuousClock.Instant) async throws -> [Double] {
    var request = Waku_Store_V3_StoreQueryRequest()
    request.pubsubTopic = topic
    request.contentTopics = ["/bench/1/c3/proto"]
    request.includeData = true
    request.paginationForward = false
    request.paginationLimit = 20
    let body = ByteBuffer(bytes: try request.serializedBytes() as [UInt8])
    var latencies = [Double]()
    try await client.withStream(.storeQuery) { stream in
        var due = clock.now
        while clock.now < stop {
            if clock.now < due { try await clock.sleep(until: due) }
            due = due + .milliseconds(20)
            let sent = clock.now
            let reply = try await stream.request(body)
            latencies.append((clock.now - sent).seconds)
            let status = try Waku_Store_V3_StoreQueryResponse(serializedBytes: Array(buffer: reply)).statusCode
            guard status == 200 else { throw ValidationErrorText("query answered \(status)") }
        }
    }
    return latencies
}

/// Syncs a copy of the peer store with the node; returns its seconds and differences.
func timedSync(_ copy: String) async throws -> (Double, Int) {
    let peer = try MessageStore(StoreConfiguration(directory: base + "/" + copy, initialMapSize: 4 << 30))
    let started = clock.now
    let window = recentStart..<(recentStart + UInt64(recentCount) * 10_000)
    let report = try await client.sync(store: peer, pubsubTopic: topic, window: window, logger: quiet)
    return ((clock.now - started).seconds, report.have + report.need)
}

// Idle.
let idleQueries = try await politeQueries(until: clock.now + .seconds(min(10, seconds)))
let (idleSync, idleDifferences) = try await timedSync("peer-idle")
print("idle: query \(percentiles(idleQueries))")
print(
    String(
        format: "idle: sync of %d vs %d, %d differences: %.2f s", recent, recent - differences, idleDifferences,
        idleSync))

/// Single-message pushes back to back on `connections` connections until `stop`; returns their
/// latencies. Message indexes start at `offset`.
func pushes(until stop: ContinuousClock.Instant, offset: Int) async throws -> [Double] {
    let latencies = Samples()
    let streams = connectionCount
    let client = client
    let clock = clock
    let now = now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for connection in 0..<streams {
            group.addTask {
                var local = [Double]()
                try await client.withStream(.push) { stream in
                    var index = 0
                    while clock.now < stop {
                        let message = try message(offset + index * streams + connection, start: now, seed: 7)
                        var container = Waku_Store_V3_StoreQueryResponse()
                        container.messages = [message.keyValue(hash: message.hash)]
                        let sent = clock.now
                        _ = try await stream.request(ByteBuffer(bytes: try container.serializedBytes() as [UInt8]))
                        local.append((clock.now - sent).seconds)
                        index += 1
                    }
                }
                latencies.add(local)
            }
        }
        try await group.waitForAll()
    }
    return latencies.all
}

/// Single-message ingests through the store API from `tasks` tasks until `stop`; returns their
/// latencies. Message indexes start at `offset`.
func ingests(until stop: ContinuousClock.Instant, offset: Int) async throws -> [Double] {
    let latencies = Samples()
    let workers = taskCount
    let store = store
    let clock = clock
    let now = now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for task in 0..<workers {
            group.addTask {
                var local = [Double]()
                var index = 0
                while clock.now < stop {
                    let message = try message(offset + index * workers + task, start: now + hour, seed: 9)
                    let sent = clock.now
                    _ = try await store.ingest([message])
                    local.append((clock.now - sent).seconds)
                    index += 1
                }
                latencies.add(local)
            }
        }
        try await group.waitForAll()
    }
    return latencies.all
}

/// Latencies gathered from many tasks.
final class Samples: Sendable {
    private let samples = Mutex<[Double]>([])
    func add(_ more: [Double]) { samples.withLock { $0 += more } }
    var all: [Double] { samples.withLock { $0 } }
}

func rate(_ samples: [Double], _ seconds: Double) -> String {
    String(format: "%.0f msg/s", Double(samples.count) / seconds)
}

// Each load alone.
let pushedAlone = try await pushes(until: clock.now + .nanoseconds(Int64(seconds * 1e9)), offset: 0)
print("pushes alone, \(connections) connections: \(rate(pushedAlone, seconds)), latency \(percentiles(pushedAlone))")
let ingestedAlone = try await ingests(until: clock.now + .nanoseconds(Int64(seconds * 1e9)), offset: 0)
print("store API ingests alone, \(tasks) tasks: \(rate(ingestedAlone, seconds)), latency \(percentiles(ingestedAlone))")

// Everything at once.
let stop = clock.now + .nanoseconds(Int64(seconds * 1e9))
let loadStart = clock.now
async let retention = store.applyRetention()
async let pushed = pushes(until: stop, offset: 1 << 30)
async let ingested = ingests(until: stop, offset: 1 << 30)
async let loadedQueries = politeQueries(until: stop)
async let loadedSync: (Double, Int) = {
    try await clock.sleep(until: clock.now + .seconds(2))
    return try await timedSync("peer-loaded")
}()
let (pruned, pushLatencies, ingestLatencies, queries, (syncSeconds, syncDifferences)) = try await (
    retention, pushed, ingested, loadedQueries, loadedSync
)
let retentionSeconds = (clock.now - loadStart).seconds
print(
    "together for \(Int(seconds)) s: pushes \(rate(pushLatencies, seconds)) (\(percentiles(pushLatencies))); "
        + "store API ingests \(rate(ingestLatencies, seconds)) (\(percentiles(ingestLatencies))); "
        + String(format: "retention pruned %d in %.1f s", pruned.total, retentionSeconds))
print("loaded: query \(percentiles(queries))")
print(
    String(
        format: "loaded: sync %d differences: %.2f s (%.2fx idle)", syncDifferences, syncSeconds,
        syncSeconds / idleSync))
let commits = store.groupCommitCounts
print(
    String(
        format: "writer: %d group commits, %.1f calls per commit", commits.groups,
        Double(commits.calls) / Double(max(1, commits.groups))))
await node.close()
_ = await serving.result
