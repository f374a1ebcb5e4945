import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode

// catchup-bench: a node that missed HOURS of traffic at RATE messages/s of SIZE-byte payloads
// catches up from a peer over loopback TCP (both nodes in this process, each on its own LMDB
// store; the catching-up store commits durably).
//   catchup-bench [--hours 6] [--rate 15] [--size 2000] [--slice 3600]

var hours = 6.0
var rate = 15.0
var size = 2_000
var slice = 3_600.0
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    guard let value = arguments.next() else { break }
    switch flag {
    case "--hours": hours = Double(value) ?? hours
    case "--rate": rate = Double(value) ?? rate
    case "--size": size = Int(value) ?? size
    case "--slice": slice = Double(value) ?? slice
    default:
        FileHandle.standardError.write(Data("catchup-bench: unknown flag \(flag)\n".utf8))
        exit(2)
    }
}

let topic = "/waku/2/rs/0/0"
let base = FileManager.default.temporaryDirectory.appendingPathComponent("catchup-bench-\(getpid())").path
defer { try? FileManager.default.removeItem(atPath: base) }
let now = WallClock.nanoseconds()
let span = UInt64(hours * 3_600 * 1e9)
let count = Int(hours * 3_600 * rate)
let peerStore = try MessageStore(StoreConfiguration(directory: base + "/peer", durability: .noSync))
var rng = SplitMix64(seed: 6)
let step = span / UInt64(count)
for start in stride(from: 0, to: count, by: 5_000) {
    let batch = try (start..<min(count, start + 5_000)).map { index in
        try WakuMessage(
            pubsubTopic: topic, contentTopic: "/bench/1/c\(index % 8)/proto",
            payload: (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
            timestamp: Int64(now - span + UInt64(index) * step))
    }
    _ = try peerStore.ingest(batch)
}
let localStore = try MessageStore(StoreConfiguration(directory: base + "/local"))
let peer = try await StoreNode.bind(store: peerStore, configuration: NodeConfiguration())
let local = try await StoreNode.bind(store: localStore, configuration: NodeConfiguration())
let serving = [Task { try await peer.serve() }, Task { try await local.serve() }]

try localStore.setMarkers([ResumeCoordinator.lastOnlineMarker: now - span])
guard let peerAddress = peer.address else { throw CocoaError(.featureUnsupported) }
let coordinator = ResumeCoordinator(
    node: local, peers: [try NodeClient(address: peerAddress)], pubsubTopics: [topic],
    configuration: ResumeConfiguration(sliceSeconds: slice), scheduler: SystemScheduler())
let started = ContinuousClock.now
let gap = try await coordinator.plan()
let report = try await coordinator.catchUp(gap ?? now..<now)
let elapsed = (ContinuousClock.now - started).seconds
let caughtUp = try localStore.messageCount() == peerStore.messageCount()
print(
    "{\"hours\":\(hours),\"rate\":\(rate),\"size\":\(size),\"messages\":\(count),\"slices\":\(report.slices),"
        + "\"fetched\":\(report.fetched),\"seconds\":\(String(format: "%.2f", elapsed)),"
        + "\"messages_per_second\":\(Int(Double(report.fetched) / elapsed)),\"bytes_up\":\(report.bytesUp),"
        + "\"bytes_down\":\(report.bytesDown),\"identical\":\(caughtUp)}")
for task in serving { task.cancel() }
await peer.close()
await local.close()
