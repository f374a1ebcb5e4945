import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncTestSupport
import Testing

@Suite("Catch-up after downtime, with crashes, as processes", .timeLimit(.minutes(15)))
struct CatchUpCrashTests {
    static let topics = ["/waku/2/rs/0/0", "/waku/2/rs/0/1"]

    static func start(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(CommandLineTests.executable, arguments)
    }

    /// The multiaddr in a node's "libp2p listening on" line.
    static func multiaddr(_ line: String?) -> String? {
        line?.split(separator: " ").first { $0.hasPrefix("/ip4/") }.map(String.init)
    }

    static func hashes(_ store: MessageStore) throws -> Set<MessageHash> {
        try topics.reduce(into: Set<MessageHash>()) { set, topic in
            try store.withSnapshot(pubsubTopic: topic) { snapshot in
                try snapshot.forEachKey(in: 0..<snapshot.count()) { key in
                    set.insert(key.hash)
                    return true
                }
            }
        }
    }

    /// A node down for 12 hours catches up from its peer, is killed (SIGKILL) in the middle of
    /// the catch-up three times, and each restart goes on from the slice it had reached: in the
    /// end it holds exactly the peer's archive, nothing twice, its indexes exact.
    @Test func killedDuringCatchUpItConvergesOnRestart() async throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: CommandLineTests.executable.path), "storesync is built")
        let directory = try TemporaryDirectory("catch-up")
        let now = WallClock.nanoseconds()
        let hour: UInt64 = 3_600_000_000_000
        do {
            let peer = try MessageStore(StoreConfiguration(directory: directory.sub("peer"), durability: .noSync))
            var rng = SplitMix64(seed: 12)
            let messages = try (0..<8_000).map { index in
                try WakuMessage(
                    pubsubTopic: Self.topics[index % 2], contentTopic: "/test/1/c\(index % 3)/proto",
                    payload: (0..<200).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
                    timestamp: Int64(now - 12 * hour + UInt64(index) * 5_000_000_000))
            }
            for batch in stride(from: 0, to: messages.count, by: 5_000) {
                _ = try await peer.ingest(Array(messages[batch..<min(messages.count, batch + 5_000)]))
            }
            let local = try MessageStore(StoreConfiguration(directory: directory.sub("local")))
            try await local.write { try $0.setMarkers([ResumeCoordinator.lastOnlineMarker: now - 12 * hour]) }
        }
        let topicFlags = Self.topics.flatMap { ["--pubsub-topic", $0] }
        let peerProcess = try Self.start(
            ["node", "--data-dir", directory.sub("peer"), "--listen", "127.0.0.1:0"] + topicFlags)
        let peerAddress = try #require(
            Self.multiaddr(await peerProcess.nextLine { $0.contains("libp2p listening on") }))

        var plannedSlices: [Int] = []
        var finished = false
        for attempt in 1...6 where !finished {
            let node = try Self.start(
                [
                    "node", "--data-dir", directory.sub("local"), "--listen", "127.0.0.1:0", "--peer", peerAddress,
                    "--resume-slice", "1800", "--sync-interval", "86400",
                ] + topicFlags)
            let planned = await node.nextLine { $0.contains("catching up on") }
            if let planned, let range = planned.range(of: " in ") {
                plannedSlices.append(Int(planned[range.upperBound...].prefix { $0.isNumber }) ?? 0)
            }
            if attempt <= 3 {
                // Let a few slices finish, then kill it without warning.
                var seen = 0
                let outcome = await node.nextLine { line in
                    if line.contains("catch-up slice") { seen += 1 }
                    return seen == 3 || line.contains("catch-up complete")
                }
                node.send(SIGKILL)
                await node.exit()
                #expect(outcome != nil, "node output: \(node.lines.joined(separator: "\n"))")
            } else {
                finished = await node.nextLine { $0.contains("catch-up complete") } != nil
                node.send(SIGTERM)
                #expect(await node.exit().code == 0)
            }
        }
        #expect(finished)
        // Each restart planned fewer slices than the one before: progress survived the kills.
        #expect(plannedSlices.count >= 4)
        #expect(zip(plannedSlices, plannedSlices.dropFirst()).allSatisfy { $0 > $1 }, "planned \(plannedSlices)")
        peerProcess.send(SIGTERM)
        await peerProcess.exit()

        let peer = try MessageStore(StoreConfiguration(directory: directory.sub("peer")))
        let local = try MessageStore(StoreConfiguration(directory: directory.sub("local")))
        let expected = try Self.hashes(peer)
        #expect(expected.count == 8_000)
        #expect(try Self.hashes(local) == expected)
        #expect(try local.messageCount() == expected.count)
        #expect(try local.marker(ResumeCoordinator.catchUpCursorMarker) == nil)
        try local._checkInvariants()
    }
}
