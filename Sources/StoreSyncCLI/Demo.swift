import ArgumentParser
import Foundation
import StoreSyncCore

/// `storesync demo`: three nodes, each fed a different overlapping share of one message stream,
/// reconcile pairwise and fetch what they lack until their archives agree.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run three nodes on a generated message stream and sync them until identical.",
        discussion: """
            Runs in one process with the nodes' archives in memory; every transferred message is \
            checked against the key it was sent for. Exits 1 if the archives do not end identical.
            """
    )

    @Option(help: "Messages in the generated stream.")
    var messages = 100_000

    @Option(help: "Simulated span of the stream, in seconds.")
    var span = 3_600

    @Option(help: "Fraction of the stream each node misses (0 to 0.9).")
    var divergence = 0.1

    @Option(help: "Split policy of the nodes: reference or adaptive.")
    var policy = SplitPolicy.adaptive

    @Option(help: "Seed of the generated stream.")
    var seed: UInt64 = 1

    func validate() throws {
        guard messages > 0 && messages <= 10_000_000 else {
            throw ValidationError("--messages must be between 1 and 10000000")
        }
        guard (0.0...0.9).contains(divergence) else { throw ValidationError("--divergence must be between 0 and 0.9") }
        guard span > 0 else { throw ValidationError("--span must be positive") }
    }

    func run() throws {
        let clock = ContinuousClock()
        let started = clock.now
        let hasher = SHA256Hasher()
        var nodes = ["node-a", "node-b", "node-c"].map(DemoArchive.init(name:))
        var generator = DemoRandom(seed: seed)
        let firstTimestamp: Int64 = 1_700_000_000_000_000_000
        let step = Int64(span) * 1_000_000_000 / Int64(messages)
        let progress = Progress(total: messages, label: "feeding nodes")
        for index in 0..<messages {
            let message = try WakuMessage(
                pubsubTopic: "/waku/2/rs/0/0",
                contentTopic: "/demo/1/topic-\(index % 7)/proto",
                payload: (0..<64).map { _ in UInt8.random(in: 0...255, using: &generator) },
                timestamp: firstTimestamp + Int64(index) * step + Int64.random(in: 0..<max(1, step), using: &generator)
            )
            var receivers = (0..<3).filter { _ in Double.random(in: 0..<1, using: &generator) >= divergence }
            if receivers.isEmpty { receivers = [Int.random(in: 0..<3, using: &generator)] }
            for receiver in receivers { try nodes[receiver].ingest(message, hasher: hasher) }
            progress.update(index + 1)
        }
        for index in nodes.indices { nodes[index].seal() }
        let before = nodes.map(\.messages.count)
        print("stream: \(messages) messages over \(span) s; policy \(policy.rawValue)")
        for node in nodes { print("  \(node.name): \(node.messages.count) messages before sync") }

        var totals = SyncTotals()
        // A ring and then one more pair reach every node from every other.
        for (a, b) in [(0, 1), (1, 2), (2, 0), (0, 1)] {
            let result = try sync(&nodes, initiator: a, responder: b, hasher: hasher)
            totals.add(result)
            print(
                "  sync \(nodes[a].name) ⇄ \(nodes[b].name): \(result.rounds) rounds, "
                    + "\(result.bytesUp) B up, \(result.bytesDown) B down, "
                    + "\(result.fetched) fetched, \(result.sent) sent")
        }

        let elapsed = clock.now - started
        let archives = nodes.map { Set($0.messages.keys) }
        let identical = archives.allSatisfy { $0 == archives[0] }
        print("result:")
        for (node, count) in zip(nodes, before) {
            print("  \(node.name): \(count) → \(node.messages.count) messages, \(node.rejected) rejected")
        }
        print("  rounds \(totals.rounds), bytes up \(totals.bytesUp), bytes down \(totals.bytesDown)")
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("  messages transferred \(totals.fetched + totals.sent), time \(String(format: "%.2f", seconds)) s")
        print("  archives identical: \(identical ? "yes" : "NO")")
        if !identical { throw ExitCode(1) }
    }

    struct SyncTotals {
        var rounds = 0
        var bytesUp = 0
        var bytesDown = 0
        var fetched = 0
        var sent = 0

        mutating func add(_ other: SyncTotals) {
            rounds += other.rounds
            bytesUp += other.bytesUp
            bytesDown += other.bytesDown
            fetched += other.fetched
            sent += other.sent
        }
    }

    /// Reconciles two nodes, then moves what each lacks, every message checked against its key.
    private func sync(_ nodes: inout [DemoArchive], initiator a: Int, responder b: Int, hasher: SHA256Hasher) throws
        -> SyncTotals
    {
        let session = InProcessSession(
            initiator: try Reconciler(frameSizeLimit: 256 * 1024, policy: policy),
            responder: try Reconciler(frameSizeLimit: 256 * 1024, policy: policy)
        )
        let outcome = try session.run(local: nodes[a].index, remote: nodes[b].index)
        for hash in outcome.need {
            if let message = nodes[b].messages[hash] { try nodes[a].accept(message, sentFor: hash, hasher: hasher) }
        }
        for hash in outcome.have {
            if let message = nodes[a].messages[hash] { try nodes[b].accept(message, sentFor: hash, hasher: hasher) }
        }
        nodes[a].seal()
        nodes[b].seal()
        return SyncTotals(
            rounds: outcome.rounds, bytesUp: outcome.bytesUp, bytesDown: outcome.bytesDown,
            fetched: outcome.need.count, sent: outcome.have.count)
    }
}

extension SplitPolicy: ExpressibleByArgument {}

/// Seeded generator for reproducible demo streams.
struct DemoRandom: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
