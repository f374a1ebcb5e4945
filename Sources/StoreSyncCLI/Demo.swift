import ArgumentParser
import Foundation
import Logging
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncPostgres

/// `storesync demo`: three nodes on loopback, each with an LMDB store in a temporary directory and
/// a different, overlapping share of one generated message stream, sync over TCP until their
/// archives agree.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run three nodes on loopback on a generated message stream and sync them until identical.",
        discussion: """
            Each node has its own LMDB store in a temporary directory (removed at the end) and listens \
            on 127.0.0.1. Every transferred message is checked against the key it was sent for. Exits \
            1 if the archives do not end identical. With three --archive URLs the nodes keep their \
            messages in those PostgreSQL databases instead (`scripts/demo --archive postgres` starts a \
            server of its own for them).
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

    @Option(
        help: ArgumentHelp(
            "A PostgreSQL archive for a node, postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE: give three, one per node.",
            valueName: "url"))
    var archive: [String] = []

    static let topic = "/waku/2/rs/0/0"

    func validate() throws {
        guard messages > 0 && messages <= 10_000_000 else {
            throw ValidationError("--messages must be between 1 and 10000000")
        }
        guard (0.0...0.9).contains(divergence) else { throw ValidationError("--divergence must be between 0 and 0.9") }
        guard span > 0 else { throw ValidationError("--span must be positive") }
        guard archive.isEmpty || archive.count == 3 else {
            throw ValidationError("give three --archive URLs, one per node, or none")
        }
    }

    func run() async throws {
        var logger = Logger(label: "storesync.demo")
        logger.logLevel = .error
        let clock = ContinuousClock()
        let started = clock.now
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("storesync-demo-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: root) }

        var nodes: [(name: String, store: any MessageArchive, node: StoreNode)] = []
        var serving: [Task<Void, any Error>] = []
        for (index, name) in ["node-a", "node-b", "node-c"].enumerated() {
            let store: any MessageArchive
            var place = "data in \(root)/\(name)"
            if archive.isEmpty {
                store = try MessageStore(StoreConfiguration(directory: "\(root)/\(name)", durability: .noSync))
            } else {
                let configuration = try PostgresArchiveConfiguration(
                    url: archive[index],
                    index: StoreConfiguration(directory: "\(root)/\(name)", durability: .noSync))
                store = try await PostgresArchive.open(configuration)
                place = "messages in \(configuration.location), key index in \(root)/\(name)"
            }
            let node = try await StoreNode.bind(
                archive: store, configuration: NodeConfiguration(policy: policy), logger: logger)
            nodes.append((name, store, node))
            serving.append(Task { try await node.serve() })
            print("\(name): listening on \(node.address.map(String.init(describing:)) ?? "?"), \(place)")
        }

        try await feed(nodes.map(\.store))
        var before: [Int] = []
        for node in nodes { before.append(try await node.store.keyIndex.read { try $0.messageCount() }) }
        print(
            "stream: \(messages) messages over \(span) s, each node misses ~\(Int(divergence * 100))%; policy \(policy)"
        )
        for (node, count) in zip(nodes, before) { print("  \(node.name): \(count) messages before sync") }

        var total = SyncReport()
        // Around the ring, over libp2p (Noise, yamux): each sync leaves both sides with the union
        // of what they held.
        for (a, b) in [(0, 1), (1, 2), (2, 0)] {
            guard let address = nodes[b].node.address else { throw ExitCode(1) }
            let peer = try NodeClient(address: address)
            let report = try await peer.sync(
                store: nodes[a].store, pubsubTopic: Self.topic, policy: policy, logger: logger)
            print(
                "  sync \(nodes[a].name) → \(nodes[b].name): \(report.rounds) rounds, \(report.bytesUp) B up, "
                    + "\(report.bytesDown) B down, \(report.fetched.stored) fetched, \(report.sent.stored) sent, "
                    + "\(report.fetched.rejected) rejected")
            total.rounds += report.rounds
            total.bytesUp += report.bytesUp
            total.bytesDown += report.bytesDown
            total.fetched = total.fetched + report.fetched
            total.sent = total.sent + report.sent
        }

        var fingerprints: [Fingerprint] = []
        var counts: [Int] = []
        for node in nodes {
            let (fingerprint, count) = try await node.store.keyIndex.read { store in
                let fingerprint = try store.withSnapshot(pubsubTopic: Self.topic) { snapshot in
                    try snapshot.fingerprint(of: 0..<snapshot.count(), hasher: SHA256Hasher())
                }
                return (fingerprint, try store.messageCount())
            }
            fingerprints.append(fingerprint)
            counts.append(count)
        }
        let identical = Set(fingerprints).count == 1 && Set(counts).count == 1
        for node in nodes { await node.node.close() }
        for task in serving { _ = await task.result }

        let elapsed = clock.now - started
        let seconds = elapsed.seconds
        print("result:")
        for (index, node) in nodes.enumerated() {
            print("  \(node.name): \(before[index]) → \(counts[index]) messages")
        }
        print("  rounds \(total.rounds), bytes up \(total.bytesUp), bytes down \(total.bytesDown)")
        print(
            "  messages transferred \(total.fetched.stored + total.sent.stored), rejected \(total.fetched.rejected + total.sent.rejected), time \(String(format: "%.2f", seconds)) s"
        )
        print("  archives identical: \(identical ? "yes" : "NO")")
        if !identical { throw ExitCode(1) }
    }

    /// Gives each node its share of the generated stream, in batches, with progress.
    private func feed(_ stores: [any MessageArchive]) async throws {
        var generator = SplitMix64(seed: seed)
        let firstTimestamp: Int64 = 1_700_000_000_000_000_000
        let step = Int64(span) * 1_000_000_000 / Int64(messages)
        let progress = Progress()
        var batches: [[WakuMessage]] = Array(repeating: [], count: stores.count)
        for index in 0..<messages {
            let message = try WakuMessage(
                pubsubTopic: Self.topic,
                contentTopic: "/demo/1/topic-\(index % 7)/proto",
                payload: (0..<64).map { _ in UInt8.random(in: 0...255, using: &generator) },
                timestamp: firstTimestamp + Int64(index) * step + Int64.random(in: 0..<max(1, step), using: &generator)
            )
            var receivers = (0..<stores.count).filter { _ in Double.random(in: 0..<1, using: &generator) >= divergence }
            if receivers.isEmpty { receivers = [Int.random(in: 0..<stores.count, using: &generator)] }
            for receiver in receivers { batches[receiver].append(message) }
            if index % 5_000 == 4_999 || index == messages - 1 {
                for (store, batch) in zip(stores, batches) where !batch.isEmpty { _ = try await store.ingest(batch) }
                batches = Array(repeating: [], count: stores.count)
                progress.update("feeding nodes", done: index + 1, total: messages)
            }
        }
    }
}
