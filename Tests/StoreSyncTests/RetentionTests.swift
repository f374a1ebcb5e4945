import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import Testing

@Suite("Retention")
struct RetentionTests {
    static let topic = "/waku/2/rs/0/0"

    /// Messages with strictly increasing timestamps (feed order is age order) and incompressible
    /// payloads of `size` bytes.
    static func stream(count: Int, size: Int, seed: UInt64, start: Int = 0) throws -> [WakuMessage] {
        var rng = SplitMix64(seed: seed)
        return try (start..<start + count).map { index in
            try WakuMessage(
                pubsubTopic: topic, contentTopic: "/test/1/c\(index % 3)/proto",
                payload: (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
                timestamp: 1_700_000_000_000_000_000 + Int64(index) * 1_000_000)
        }
    }

    static func fileSize(_ store: MessageStore) throws -> Int {
        try store.diskUsage().fileBytes
    }

    @Test func parsesTheReferenceNodeSettings() throws {
        let policy = try RetentionPolicy.parse(["time:3600", "capacity:1000;size:16mb"])
        #expect(policy == RetentionPolicy(maximumAgeSeconds: 3_600, maximumCount: 1_000, maximumBytes: 16 << 20))
        #expect(try RetentionPolicy.parse(["size:2GB"]).maximumBytes == 2 << 30)
        #expect(try RetentionPolicy.parse(["none"]) == .none)
        #expect(try RetentionPolicy.parse([]) == .none)
        #expect(try RetentionPolicy.parse([policy.description]) == policy)
        for bad in ["time:-1", "time:abc", "capacity:0", "size:10", "size:10kb", "size:mb", "ttl:5", "none,time:5"] {
            #expect(throws: RetentionPolicyError.self, "\(bad)") { try RetentionPolicy.parse([bad]) }
        }
    }

    @Test func capacityKeepsTheNewestMessagesOverAllTopics() throws {
        let directory = try TemporaryDirectory()
        let store = try MessageStore(
            StoreConfiguration(
                directory: directory.sub("s"), durability: .noSync, retention: RetentionPolicy(maximumCount: 1_000)))
        // Two topics, interleaved in time.
        var messages = [WakuMessage]()
        for index in 0..<3_000 {
            let topic = index % 2 == 0 ? "/a" : "/b"
            let payload: [UInt8] = [UInt8(index & 255)]
            messages.append(
                try WakuMessage(
                    pubsubTopic: topic, contentTopic: "/c/\(index % 5)", payload: payload,
                    timestamp: 1_000_000 + Int64(index)))
        }
        for batch in stride(from: 0, to: messages.count, by: 250) {
            _ = try store.ingest(Array(messages[batch..<batch + 250]))
            #expect(try store.messageCount() == min(1_000, batch + 250))
        }
        let statistics = try store.statistics()
        #expect(statistics.messages == 1_000)
        #expect(statistics.oldest == 1_000_000 + 2_000)
        #expect(statistics.topics.map(\.messages) == [500, 500])
        for message in messages.suffix(1_000) { #expect(try store.message(for: message.hash) != nil) }
        #expect(store.retentionDeletions == RetentionReport(byCount: 2_000))
        try store._checkInvariants()
        // Full: a message older than everything kept would go at once, so sync stops there.
        #expect(try store.retentionFloor().timestamp == 1_000_000 + 2_000)
        #expect(try store.retentionFloor() == store.statistics().oldestKey)
    }

    @Test func ageLimitDeletesOldMessagesAndSetsTheSyncFloor() async throws {
        let directory = try TemporaryDirectory()
        let store = try MessageStore(
            StoreConfiguration(
                directory: directory.sub("s"), durability: .noSync, retention: RetentionPolicy(maximumAgeSeconds: 60)))
        let messages = try Self.stream(count: 200, size: 10, seed: 3)  // 1 ms apart
        _ = try await store.ingest(messages)
        let now = UInt64(messages[150].timestamp) + 60_000_000_000
        #expect(try store.retentionFloor(now: now) == SyncKey(timestamp: UInt64(messages[150].timestamp)))
        let report = try await store.applyRetention(now: now)
        #expect(report == RetentionReport(byAge: 150))
        #expect(try store.messageCount() == 50)
        #expect(try store.message(for: messages[149].hash) == nil)
        #expect(try store.message(for: messages[150].hash) != nil)
        try store._checkInvariants()
    }

    /// The size cap is hard: fed five times the cap, the data file never passes it, no write
    /// fails, what is kept is always the newest messages, and the indexes stay exact.
    @Test(arguments: [2_000, 150])
    func sizeCapIsHardAndKeepsTheNewest(payload: Int) throws {
        let cap = 8 << 20
        let directory = try TemporaryDirectory()
        let store = try MessageStore(
            StoreConfiguration(
                directory: directory.sub("s"), durability: .noSync, retention: RetentionPolicy(maximumBytes: cap)))
        let total = 5 * cap / (payload + 100)
        let messages = try Self.stream(count: total, size: payload, seed: UInt64(payload))
        var fed = 0
        var largestFile = 0
        for batch in stride(from: 0, to: total, by: 500) {
            let part = Array(messages[batch..<min(total, batch + 500)])
            let result = try store.ingest(part)
            fed += part.count
            #expect(result.stored == part.count)
            let file = try Self.fileSize(store)
            largestFile = max(largestFile, file)
            #expect(file <= cap, "data file \(file) bytes after \(fed) messages")
            // The batch just written is all there.
            for message in part { #expect(try store.message(for: message.hash) != nil) }
            if batch % 5_000 == 0 { try store._checkInvariants() }
        }
        // What is kept is exactly the newest ones: a suffix of the stream.
        let kept = try store.messageCount()
        #expect(kept < total)
        #expect(kept * (payload + 100) > cap / 8, "only \(kept) messages kept under an \(cap)-byte cap")
        #expect(try store.message(for: messages[total - kept - 1].hash) == nil)
        for message in messages.suffix(kept) { #expect(try store.message(for: message.hash) != nil) }
        #expect(store.retentionDeletions.bySize == total - kept)
        #expect(largestFile <= cap)
        try store._checkInvariants()
    }

    /// A capped node syncing with a peer that holds everything: it fetches the newer messages it
    /// lacks, none older than what it keeps, and stays under its cap.
    @Test func cappedNodeSyncsOnlyWhatItKeeps() async throws {
        let cap = 4 << 20
        let directory = try TemporaryDirectory()
        let capped = try MessageStore(
            StoreConfiguration(
                directory: directory.sub("capped"), durability: .noSync, retention: RetentionPolicy(maximumBytes: cap)))
        let messages = try Self.stream(count: 8_000, size: 1_000, seed: 9)
        for batch in stride(from: 0, to: 7_500, by: 500) {
            _ = try await capped.ingest(Array(messages[batch..<batch + 500]))
        }
        let peer = try await TestNode()
        _ = try await peer.store.ingest(messages)
        let keptBefore = try capped.messageCount()
        let oldest = try #require(try capped.statistics().oldestKey)
        let report = try await peer.client.sync(store: capped, pubsubTopic: Self.topic)
        await peer.stop()
        // The floor is the oldest key kept: the window starts past its timestamp, as any message
        // at that timestamp with a smaller hash would be the next one evicted.
        #expect(report.window.lowerBound == oldest.timestamp + 1)
        #expect(report.need == 500)
        #expect(report.have == 0)
        #expect(report.fetched.stored == 500)
        #expect(try Self.fileSize(capped) <= cap)
        for message in messages.suffix(500) { #expect(try capped.message(for: message.hash) != nil) }
        // Nothing older than what was kept came in.
        #expect(try capped.statistics().oldestKey.map { $0 >= oldest } ?? false)
        #expect(try capped.messageCount() <= keptBefore + 500)
        try capped._checkInvariants()
    }
}
