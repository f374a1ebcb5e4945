import Foundation
import StoreSyncCore
import StoreSyncLMDB

// disk-bench: how disk use relates to message count and size, with and without a size cap.
//   disk-bench [--payloads 100,1000,10000] [--n 100000] [--cap-mb 64]
// For each payload size: N messages into an uncapped store (bytes per message in use and in the
// file), then four times the cap into a store with retention size:<cap>mb (largest data file,
// messages kept at the end and their range over the run, throughput).

var payloads = [100, 1_000, 10_000]
var n = 100_000
var capMB = 64
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    guard let value = arguments.next() else { break }
    switch flag {
    case "--payloads": payloads = value.split(separator: ",").compactMap { Int($0) }
    case "--n": n = Int(value) ?? n
    case "--cap-mb": capMB = Int(value) ?? capMB
    default:
        FileHandle.standardError.write(Data("disk-bench: unknown flag \(flag)\n".utf8))
        exit(2)
    }
}

func messages(_ range: Range<Int>, payload: Int, rng: inout SplitMix64) throws -> [WakuMessage] {
    try range.map { index in
        try WakuMessage(
            pubsubTopic: "/waku/2/rs/0/0", contentTopic: "/bench/1/c\(index % 8)/proto",
            payload: (0..<payload).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
            timestamp: 1_700_000_000_000_000_000 + Int64(index) * 1_000_000)
    }
}

let base = FileManager.default.temporaryDirectory.appendingPathComponent("disk-bench-\(getpid())").path
defer { try? FileManager.default.removeItem(atPath: base) }
print(
    "| payload B | messages | in use B/msg | file B/msg | cap MiB | fed | kept at end | kept min–max | largest file MiB | msgs/s under cap |"
)
print("|---|---|---|---|---|---|---|---|---|---|")
for payload in payloads {
    var rng = SplitMix64(seed: UInt64(payload))
    let open = try MessageStore(StoreConfiguration(directory: base + "/open-\(payload)", durability: .noSync))
    let batch = 1_000
    for start in stride(from: 0, to: n, by: batch) {
        _ = try open.ingest(try messages(start..<min(n, start + batch), payload: payload, rng: &rng))
    }
    let usage = try open.diskUsage()

    let cap = capMB << 20
    let capped = try MessageStore(
        StoreConfiguration(
            directory: base + "/capped-\(payload)", durability: .noSync,
            retention: RetentionPolicy(maximumBytes: cap)))
    let fed = 4 * cap / (payload + 100)
    var largest = 0
    var keptRange = (Int.max, 0)
    let started = ContinuousClock.now
    for start in stride(from: 0, to: fed, by: batch) {
        _ = try capped.ingest(try messages(start..<min(fed, start + batch), payload: payload, rng: &rng))
        largest = max(largest, try capped.diskUsage().fileBytes)
        if capped.retentionDeletions.total > 0 {
            let kept = try capped.messageCount()
            keptRange = (min(keptRange.0, kept), max(keptRange.1, kept))
        }
    }
    let elapsed = (ContinuousClock.now - started).seconds
    let kept = try capped.messageCount()
    print(
        "| \(payload) | \(n) | \(usage.usedBytes / n) | \(usage.fileBytes / n) | \(capMB) | \(fed) | \(kept) | "
            + "\(keptRange.0)–\(keptRange.1) | \(String(format: "%.1f", Double(largest) / 1_048_576)) | "
            + "\(Int(Double(fed) / elapsed)) |")
}
