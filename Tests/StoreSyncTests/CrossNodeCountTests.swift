import Foundation
import NIOCore
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import Synchronization
import Testing

@Suite("Cross-node counts")
struct CrossNodeCountTests {
    static let topic = "/waku/2/rs/0/0"
    static let base: UInt64 = 1_700_000_040_000_000_000  // a whole minute
    static let minute: UInt64 = 60_000_000_000

    /// 600 messages, one a second over ten minutes, on content topics c0, c1, c2 in turn.
    static func stream() throws -> [WakuMessage] {
        try (0..<600).map { try message($0) }
    }

    static func message(_ index: Int, variant: UInt8 = 0) throws -> WakuMessage {
        try WakuMessage(
            pubsubTopic: topic, contentTopic: "/test/1/c\(index % 3)/proto", payload: [UInt8(index & 255), variant],
            timestamp: Int64(base) + Int64(index) * 1_000_000_000)
    }

    /// Three nodes: A has everything; B lacks #5 and #130, and in minute 7 lacks #430 but has an
    /// extra message there (same count, other content); C lacks #250 and has an extra in minute 9.
    static func nodes() async throws -> (TestNode, TestNode, TestNode, extras: [WakuMessage]) {
        let messages = try stream()
        let extraB = try message(431, variant: 9)
        let extraC = try message(599, variant: 7)
        let a = try await TestNode()
        let b = try await TestNode()
        let c = try await TestNode()
        _ = try await a.store.ingest(messages)
        _ = try await b.store.ingest(
            messages.enumerated().filter { ![5, 130, 430].contains($0.offset) }.map(\.element) + [extraB])
        _ = try await c.store.ingest(messages.enumerated().filter { $0.offset != 250 }.map(\.element) + [extraC])
        return (a, b, c, [extraB, extraC])
    }

    static func key(_ message: WakuMessage) -> SyncKey {
        SyncKey(timestamp: UInt64(message.timestamp), hash: message.hash)
    }

    @Test func countsAndDifferencesOfThreeNodesAreExactlyTheKnownOnes() async throws {
        let (a, b, c, extras) = try await Self.nodes()
        let messages = try Self.stream()
        let named = [("A", a.client), ("B", b.client), ("C", c.client)].map { (name: $0.0, client: $0.1) }
        let filter = CountFilter(pubsubTopic: Self.topic, timeRange: Self.base..<(Self.base + 10 * Self.minute))
        let table = try await CrossNodeCount.gather(nodes: named, filter: filter, bucketWidth: Self.minute)
        #expect(table.rows.count == 10)
        let expected: [[Int]] = [
            [60, 59, 60], [60, 60, 60], [60, 59, 60], [60, 60, 60], [60, 60, 59],
            [60, 60, 60], [60, 60, 60], [60, 60, 60], [60, 60, 60], [60, 60, 61],
        ]
        #expect(table.rows.map { $0.buckets.map(\.count) } == expected)
        // Minute 7: equal counts, different messages: the fingerprint tells.
        #expect(table.disagreements.map { ($0.start - Self.base) / Self.minute } == [0, 2, 4, 7, 9])
        #expect(table.rows[7].buckets[0].count == table.rows[7].buckets[1].count)

        var minute7 = filter
        minute7.timeRange = (Self.base + 7 * Self.minute)..<(Self.base + 8 * Self.minute)
        let missing7 = try await CrossNodeCount.missing(nodes: named, filter: minute7)
        #expect(missing7[0] == [Self.key(extras[0])])
        #expect(missing7[1] == [Self.key(messages[430])])
        #expect(missing7[2] == [Self.key(extras[0])])
        let whole = try await CrossNodeCount.missing(nodes: named, filter: filter)
        #expect(Set(whole[0]) == Set(extras.map(Self.key)))
        #expect(Set(whole[1]) == Set([5, 130, 430].map { Self.key(messages[$0]) } + [Self.key(extras[1])]))
        #expect(Set(whole[2]) == Set([Self.key(messages[250]), Self.key(extras[0])]))

        // With a content topic: only its messages are counted.
        // c1 holds #130, #250 and #430, none of the extras.
        var c1 = filter
        c1.contentTopics = ["/test/1/c1/proto"]
        let filtered = try await CrossNodeCount.gather(nodes: named, filter: c1, bucketWidth: Self.minute)
        #expect(filtered.rows.map { $0.buckets[0].count } == Array(repeating: 20, count: 10))
        #expect(filtered.disagreements.map { ($0.start - Self.base) / Self.minute } == [2, 4, 7])
        #expect(
            filtered.disagreements.map { $0.buckets.map(\.count) } == [[20, 19, 20], [20, 20, 19], [20, 19, 20]])
        await a.stop()
        await b.stop()
        await c.stop()
    }

    @Test func countRequestsAreBoundedAndMalformedOnesRefused() async throws {
        let node = try await TestNode()
        var tooMany = ByteBuffer()
        CountRequest.buckets(
            CountFilter(pubsubTopic: Self.topic, timeRange: 0..<10_001), bucketWidth: 1
        ).encode(into: &tooMany)
        let raw = RawPeer(port: node.node.port)
        let refused = try await raw.exchange(frames: [
            .hello(protocolId: 5, version: StreamProtocol.version), .data(tooMany),
        ])
        guard case .error(let code, let message, _)? = refused else {
            Issue.record("expected an error frame, got \(String(describing: refused))")
            return
        }
        #expect(code == 400 && message.contains("10000 buckets"))
        let garbage = try await raw.exchange(frames: [
            .hello(protocolId: 5, version: StreamProtocol.version), .data(ByteBuffer(bytes: [2, 0])),
        ])
        guard case .error(400, _, _)? = garbage else {
            Issue.record("expected 400, got \(String(describing: garbage))")
            return
        }
        // Still serving, and round trips of the codec are exact.
        let filter = CountFilter(pubsubTopic: Self.topic, contentTopics: ["x"], timeRange: 5..<10_005)
        #expect(try await node.client.bucketCounts(filter, bucketWidth: 1).count == 10_000)
        // Buckets at the very end of time: no overflow, the last one cut at the end.
        let edge = CountFilter(pubsubTopic: Self.topic, timeRange: (UInt64.max - 100)..<UInt64.max)
        #expect(try await node.client.bucketCounts(edge, bucketWidth: UInt64.max / 2).map(\.count) == [0])
        #expect(try await node.client.bucketCounts(edge, bucketWidth: 30).count == 4)
        for request in [
            CountRequest.buckets(filter, bucketWidth: 7),
            .keys(filter, after: SyncKey(timestamp: 9, hash: try Self.message(1).hash), limit: 3),
            .keys(filter, after: nil, limit: 1),
        ] {
            var buffer = ByteBuffer()
            request.encode(into: &buffer)
            #expect(try CountRequest(decoding: &buffer) == request)
        }
        await node.stop()
    }

    @Test func theCommandPrintsTheTableAndTheDiff() async throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: CommandLineTests.executable.path), "storesync is built")
        let (a, b, c, extras) = try await Self.nodes()
        let messages = try Self.stream()
        let run = try await CommandLineTests.run(
            [
                "count", "--node", "127.0.0.1:\(a.node.port)", "--node", "127.0.0.1:\(b.node.port)", "--node",
                "127.0.0.1:\(c.node.port)", "--start", String(Self.base), "--end", String(Self.base + 10 * Self.minute),
                "--bucket", "1m", "--diff",
            ])
        await a.stop()
        await b.stop()
        await c.stop()
        #expect(run.status == 0, "\(run.output)")
        let lines = run.output.split(separator: "\n").map(String.init)
        let marked = lines.filter { $0.hasSuffix("  *") }
        #expect(marked.count == 5, "\(run.output)")
        let total = lines.first { $0.hasPrefix("total") }?.split(separator: " ").map(String.init)
        #expect(total == ["total", "600", "598", "600"], "\(run.output)")
        #expect(run.output.contains("5 of 10 buckets disagree"))
        for missing in [messages[5], messages[130], messages[430], messages[250], extras[0], extras[1]] {
            #expect(run.output.contains(missing.hash.hex), "\(missing.timestamp) not listed")
        }
        #expect(!run.output.contains(messages[6].hash.hex))
    }
}
