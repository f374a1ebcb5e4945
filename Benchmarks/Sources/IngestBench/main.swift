import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode

// ingest-bench: the store's ingest paths with full durability, on the same messages.
//   ingest-bench [--prefill 1000000] [--n 100000] [--tasks 1024] [--payload 200] [--import 300000]
// 1. Prefills a store with --prefill messages (without fsync, then reopened durable).
// 2. Batched: --n new messages through `ingest` in batches of 1 000 (one commit each).
// 3. Concurrent: --n other new messages, each its own `await ingest` call, from --tasks tasks at
//    once (the writer thread commits what has queued up together).
// 4. Import: --import messages written as JSON Lines, then imported with `BulkImport` into an
//    empty store, against the same messages ingested in batches of 1 000 into another.

var prefill = 1_000_000
var n = 100_000
var tasks = 1_024
var payload = 200
var importCount = 300_000
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    guard let value = arguments.next(), let number = Int(value) else { break }
    switch flag {
    case "--prefill": prefill = number
    case "--n": n = number
    case "--tasks": tasks = number
    case "--payload": payload = number
    case "--import": importCount = number
    default:
        FileHandle.standardError.write(Data("ingest-bench: unknown flag \(flag)\n".utf8))
        exit(2)
    }
}

let payloadSize = payload
let workers = tasks

func messages(_ count: Int, from start: Int, seed: UInt64) throws -> [WakuMessage] {
    var rng = SplitMix64(seed: seed)
    return try (0..<count).map { index in
        try WakuMessage(
            pubsubTopic: "/waku/2/rs/0/0", contentTopic: "/bench/1/c\(index % 8)/proto",
            payload: (0..<payloadSize).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
            timestamp: 1_700_000_000_000_000_000 + Int64(start + index) * 1_000_000)
    }
}

func batched(_ store: MessageStore, _ messages: [WakuMessage]) throws -> Double {
    let started = ContinuousClock.now
    for batch in stride(from: 0, to: messages.count, by: 1_000) {
        _ = try store.ingest(Array(messages[batch..<min(messages.count, batch + 1_000)]))
    }
    return Double(messages.count) / (ContinuousClock.now - started).seconds
}

let base = FileManager.default.temporaryDirectory.appendingPathComponent("ingest-bench-\(getpid())").path
defer { try? FileManager.default.removeItem(atPath: base) }

// 1. Prefill.
let path = base + "/store"
do {
    let store = try MessageStore(StoreConfiguration(directory: path, initialMapSize: 2 << 30, durability: .noSync))
    for start in stride(from: 0, to: prefill, by: 100_000) {
        _ = try store.ingest(try messages(min(100_000, prefill - start), from: start, seed: UInt64(start)))
    }
}
let store = try MessageStore(StoreConfiguration(directory: path, initialMapSize: 2 << 30))
print("prefilled \(try store.messageCount()) messages of \(payload) B")

// 2. Batched.
let batchRate = try batched(store, try messages(n, from: prefill, seed: 1))
print(String(format: "batched (1 000 per commit):  %8.0f msg/s", batchRate))

// 3. Concurrent single-message ingests.
let singles = try messages(n, from: prefill + n, seed: 2)
let before = store.groupCommitCounts
let started = ContinuousClock.now
try await withThrowingTaskGroup(of: Void.self) { group in
    for worker in 0..<workers {
        group.addTask {
            for index in stride(from: worker, to: singles.count, by: workers) {
                _ = try await store.ingest([singles[index]])
            }
        }
    }
    try await group.waitForAll()
}
let concurrentRate = Double(n) / (ContinuousClock.now - started).seconds
let after = store.groupCommitCounts
print(
    String(
        format: "concurrent (%d tasks, 1 message per call): %8.0f msg/s, %.0f%% of batched, %.1f calls per commit",
        tasks, concurrentRate, 100 * concurrentRate / batchRate,
        Double(after.calls - before.calls) / Double(max(1, after.groups - before.groups))))

// 4. Import against batched ingest of the same messages, each into an empty store.
if importCount > 0 {
    let file = base + "/messages.jsonl"
    let all = try messages(importCount, from: 0, seed: 3)
    _ = FileManager.default.createFile(
        atPath: file, contents: Data(all.map(JSONLines.line).joined(separator: "\n").utf8))
    let parseStarted = ContinuousClock.now
    let parsed = try JSONLines(contentsOf: file).messages.count
    let parseRate = Double(parsed) / (ContinuousClock.now - parseStarted).seconds
    let direct = try MessageStore(StoreConfiguration(directory: base + "/direct"))
    let directRate = try batched(direct, all)
    let imported = try MessageStore(StoreConfiguration(directory: base + "/imported"))
    let importStarted = ContinuousClock.now
    let report = try await BulkImport().run(path: file, into: imported)
    let importRate = Double(report.counts.stored) / (ContinuousClock.now - importStarted).seconds
    print(String(format: "import of %d JSON lines: parse alone %8.0f lines/s (one thread)", importCount, parseRate))
    print(String(format: "  batched ingest of the same messages: %8.0f msg/s", directRate))
    print(
        String(
            format: "  storesync import (BulkImport):       %8.0f msg/s, %.0f%% of batched, stored %d",
            importRate, 100 * importRate / directRate, report.counts.stored))
}
