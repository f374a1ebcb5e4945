import Foundation
import StoreSyncCore
import StoreSyncLMDB

// sync-bench: reconciliation scenarios measured on the same data for every method.
//   sync-bench --n N --d D [--policy reference|adaptive|full-ids|xor-partitions|waku-sync] [--responder-policy P]
//              [--storage memory|lmdb] [--transport inprocess] [--frame-limit BYTES] [--seed S] [--json]
//              [--repeat K] [--workload alternating]
// prints one line (or JSON object) for one run. Without --n and --d it runs the grid (see Grid.swift)
// and writes its table, CSV and plots.

struct Options {
    var n = 100_000
    var d = 100
    var policy = SplitPolicy.reference
    /// The method: a split policy of the Negentropy engine, or a baseline.
    var method = "reference"
    var grid = true
    var output = "Benchmarks/results"
    var largeGrid = false
    var responderPolicy: SplitPolicy?
    var storage = "memory"
    var transport = "inprocess"
    var frameLimit = 0
    var seed: UInt64 = 1
    var json = false
    var repeats = 1
    var alternating = false
}

func parse() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst().makeIterator()
    func value(_ flag: String) -> String {
        guard let value = arguments.next() else {
            FileHandle.standardError.write(Data("sync-bench: \(flag) needs a value\n".utf8))
            exit(2)
        }
        return value
    }
    while let argument = arguments.next() {
        switch argument {
        case "--n":
            options.n = Int(value(argument)) ?? options.n
            options.grid = false
        case "--d":
            options.d = Int(value(argument)) ?? options.d
            options.grid = false
        case "--policy":
            options.method = value(argument)
            options.policy = SplitPolicy(rawValue: options.method) ?? options.policy
            guard
                SplitPolicy(rawValue: options.method) != nil || Baseline.names.contains(options.method)
                    || options.method == WakuSyncRun.method
            else {
                FileHandle.standardError.write(
                    Data(
                        "sync-bench: --policy must be reference, adaptive, full-ids, xor-partitions or waku-sync\n".utf8
                    ))
                exit(2)
            }
        case "--output": options.output = value(argument)
        case "--with-10m": options.largeGrid = true
        case "--responder-policy": options.responderPolicy = SplitPolicy(rawValue: value(argument))
        case "--storage": options.storage = value(argument)
        case "--transport": options.transport = value(argument)
        case "--frame-limit": options.frameLimit = Int(value(argument)) ?? 0
        case "--seed": options.seed = UInt64(value(argument)) ?? 1
        case "--json": options.json = true
        case "--repeat": options.repeats = max(1, Int(value(argument)) ?? 1)
        case "--workload":
            // `alternating`: the C API example's keys (examples/c `bench`).
            options.alternating = value(argument) == "alternating"
        default:
            FileHandle.standardError.write(Data("sync-bench: unknown argument \(argument)\n".utf8))
            exit(2)
        }
    }
    return options
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
        + Double(usage.ru_stime.tv_usec) / 1e6
}

func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024
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

let options = parse()
if options.grid {
    try Grid.run(options)
    exit(0)
}
let workload =
    options.alternating
    ? Workload(alternating: options.n, d: options.d) : Workload(n: options.n, d: options.d, seed: options.seed)

/// Runs `run` `--repeat` times and keeps the fastest run (the first pays for cold caches and
/// page faults).
func fastest(_ run: () throws -> (InProcessSession.Outcome, Double, Double)) rethrows -> (
    InProcessSession.Outcome, Double, Double
) {
    var best = try run()
    for _ in 1..<options.repeats {
        let result = try run()
        if result.1 < best.1 { best = result }
    }
    return best
}

/// Runs the session on the chosen storage with fresh engines, timing only the reconciliation.
func measure(_ run: (InProcessSession) throws -> InProcessSession.Outcome) throws -> (
    InProcessSession.Outcome, Double, Double
) {
    try fastest {
        let fresh = InProcessSession(
            initiator: try Reconciler(frameSizeLimit: options.frameLimit, policy: options.policy),
            responder: try Reconciler(
                frameSizeLimit: options.frameLimit, policy: options.responderPolicy ?? options.policy))
        return try measureOnce { try run(fresh) }
    }
}

/// Where `lmdbStore()` keeps its store; removed at exit.
let storeDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("sync-bench-\(getpid())").path

/// A store holding both sides' keys as key-only indexes `local` and `remote`.
func lmdbStore() throws -> MessageStore {
    atexit { try? FileManager.default.removeItem(atPath: storeDirectory) }
    let store = try MessageStore(
        StoreConfiguration(directory: storeDirectory, initialMapSize: 1 << 30, durability: .noSync))
    for (name, keys) in [("local", workload.local), ("remote", workload.remote)] {
        for start in stride(from: 0, to: keys.count, by: 100_000) {
            try store.insertKeys(Array(keys[start..<min(start + 100_000, keys.count)]), index: name)
        }
    }
    return store
}

func measureOnce(_ run: () throws -> InProcessSession.Outcome) rethrows -> (InProcessSession.Outcome, Double, Double) {
    let cpuStart = cpuSeconds()
    let clock = ContinuousClock()
    let start = clock.now
    let outcome = try run()
    let elapsed = clock.now - start
    return (
        outcome, elapsed.seconds,
        cpuSeconds() - cpuStart
    )
}

/// The session over loopback TCP, timed like `measureOnce`.
func measureTCP(local: Side, remote: Side) async throws -> (InProcessSession.Outcome, Double, Double) {
    let cpuStart = cpuSeconds()
    let start = ContinuousClock.now
    let outcome = try await TCPTransport.run(
        local: local, remote: remote, policy: options.policy, frameLimit: options.frameLimit)
    let elapsed = ContinuousClock.now - start
    return (
        outcome, elapsed.seconds,
        cpuSeconds() - cpuStart
    )
}

guard ["inprocess", "tcp"].contains(options.transport) else {
    FileHandle.standardError.write(Data("sync-bench: --transport must be inprocess or tcp\n".utf8))
    exit(2)
}
if options.transport == "tcp" && Baseline.names.contains(options.method) {
    FileHandle.standardError.write(Data("sync-bench: the baselines run in process\n".utf8))
    exit(2)
}

let outcome: InProcessSession.Outcome
let seconds: Double
let cpu: Double
switch (options.storage, options.method) {
case ("memory", "full-ids"):
    (outcome, seconds, cpu) = measureOnce { Baseline.fullIds(local: workload.local, remote: workload.remote) }
case ("memory", "xor-partitions"):
    (outcome, seconds, cpu) = measureOnce { Baseline.xorPartitions(local: workload.local, remote: workload.remote) }
case ("memory", WakuSyncRun.method) where options.transport == "inprocess":
    let local = WakuSyncRun.storage(workload.local)
    let remote = WakuSyncRun.storage(workload.remote)
    (outcome, seconds, cpu) = try measureOnce {
        try WakuSyncRun.run(
            local: WakuSyncRun.access(local), remote: WakuSyncRun.access(remote),
            window: WakuSyncRun.window(workload.local, workload.remote))
    }
case ("lmdb", WakuSyncRun.method) where options.transport == "inprocess":
    let store = try lmdbStore()
    let side = { (name: String) -> WakuSyncRun.Access in
        { body in try store.withXorSnapshot(keyIndex: name) { try body($0) } }
    }
    (outcome, seconds, cpu) = try fastest {
        try measureOnce {
            try WakuSyncRun.run(
                local: side("local"), remote: side("remote"),
                window: WakuSyncRun.window(workload.local, workload.remote))
        }
    }
case (_, WakuSyncRun.method):
    FileHandle.standardError.write(Data("sync-bench: waku-sync runs in process\n".utf8))
    exit(2)
case (_, "full-ids"), (_, "xor-partitions"):
    FileHandle.standardError.write(Data("sync-bench: the baselines run on memory storage\n".utf8))
    exit(2)
case ("memory", _) where options.transport == "tcp":
    (outcome, seconds, cpu) = try await measureTCP(
        local: .memory(SortedKeyStorage(uniqueSortedKeys: workload.local)),
        remote: .memory(SortedKeyStorage(uniqueSortedKeys: workload.remote)))
case ("memory", _):
    let local = SortedKeyStorage(uniqueSortedKeys: workload.local)
    let remote = SortedKeyStorage(uniqueSortedKeys: workload.remote)
    (outcome, seconds, cpu) = try measure { try $0.run(local: local, remote: remote) }
case ("lmdb", _):
    let store = try lmdbStore()
    // One snapshot per message on each side, as a node does.
    if options.transport == "tcp" {
        (outcome, seconds, cpu) = try await measureTCP(
            local: .lmdb(store, index: "local"), remote: .lmdb(store, index: "remote"))
    } else {
        (outcome, seconds, cpu) = try measure {
            try $0.run(
                localSnapshots: store.snapshots(keyIndex: "local"), remoteSnapshots: store.snapshots(keyIndex: "remote")
            )
        }
    }
default:
    FileHandle.standardError.write(Data("sync-bench: --storage must be memory or lmdb\n".utf8))
    exit(2)
}

let expectedDifferences =
    workload.local.count + workload.remote.count - 2 * Set(workload.local).intersection(workload.remote).count
guard outcome.have.count + outcome.need.count == expectedDifferences else {
    FileHandle.standardError.write(
        Data(
            "sync-bench: found \(outcome.have.count + outcome.need.count) differences, expected \(expectedDifferences)\n"
                .utf8))
    exit(1)
}
let bytes = outcome.bytesUp + outcome.bytesDown
let perDifference = options.d == 0 ? 0 : Double(bytes) / Double(options.d)
if options.json {
    let fields: [String] = [
        "\"n\":\(options.n)", "\"d\":\(options.d)", "\"storage\":\"\(options.storage)\"",
        "\"policy\":\"\(options.method)\"",
        "\"responder_policy\":\"\(Baseline.names.contains(options.method) || options.method == WakuSyncRun.method ? options.method : (options.responderPolicy ?? options.policy).rawValue)\"",
        "\"transport\":\"\(options.transport)\"", "\"frame_limit\":\(options.frameLimit)",
        "\"rounds\":\(outcome.rounds)", "\"bytes_up\":\(outcome.bytesUp)", "\"bytes_down\":\(outcome.bytesDown)",
        "\"bytes_per_difference\":\(String(format: "%.1f", perDifference))",
        "\"have\":\(outcome.have.count)", "\"need\":\(outcome.need.count)",
        "\"sync_seconds\":\(String(format: "%.6f", seconds))", "\"cpu_seconds\":\(String(format: "%.6f", cpu))",
        "\"peak_rss_bytes\":\(peakResidentBytes())", "\"anon_rss_bytes\":\(anonymousResidentBytes())",
    ]
    print("{" + fields.joined(separator: ",") + "}")
} else {
    print(
        "n=\(options.n) d=\(options.d) policy=\(options.method)/\((options.responderPolicy ?? options.policy).rawValue)"
            + " rounds=\(outcome.rounds) up=\(outcome.bytesUp) down=\(outcome.bytesDown)"
            + " bytes/diff=\(String(format: "%.0f", perDifference)) have=\(outcome.have.count) need=\(outcome.need.count)"
            + " time=\(String(format: "%.6f", seconds))s cpu=\(String(format: "%.6f", cpu))s"
            + " rss=\(peakResidentBytes() >> 20)MB anon=\(anonymousResidentBytes() >> 20)MB")
}
