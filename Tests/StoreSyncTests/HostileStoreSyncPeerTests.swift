import Foundation
import NIOCore
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncP2P
import Testing

/// A peer that speaks the reference node's store sync to hurt: each attack gets a clear close
/// (the stream reset), costs the node a bounded amount of work, stores nothing, and the node
/// then syncs with an honest peer as before.
@Suite("A hostile store-sync peer")
struct HostileStoreSyncPeerTests {
    static let topic = "/waku/2/rs/0/0"

    /// A node with small bounds, holding some messages.
    static func node(messages: Int = 3_000, _ configure: (inout StoreSyncSettings) -> Void = { _ in }) async throws
        -> TestNode
    {
        let node = try await TestNode { configuration in
            configuration.storeSync.negentropy = false
            configure(&configuration.storeSync)
        }
        node.clock.advance(by: 3_600)
        _ = try await node.store.ingest(try testMessages(count: messages, seed: 5))
        return node
    }

    /// A raw libp2p connection to the node, from a fresh identity.
    static func connect(_ node: TestNode) async throws -> (P2PHost, P2PConnection) {
        let host = P2PHost(identity: try PrivateKey.generate(.ed25519))
        return (host, try await host.dial(try #require(node.node.address)))
    }

    /// A payload over the whole generated range with one range of `content`.
    static func payload(_ content: [RangesData.Range]) -> ByteBuffer {
        ByteBuffer(
            bytes: RangesData(pubsubTopics: [], contentTopics: [], start: SyncKey(timestamp: 0), ranges: content)
                .encoded())
    }

    /// Reads replies until the node ends the stream; returns how many came.
    static func repliesUntilClosed(_ stream: P2PStream) async -> Int {
        var replies = 0
        while (try? await stream.readPrefixed(limit: 8 << 20, what: "reply")) ?? nil != nil { replies += 1 }
        return replies
    }

    /// After an attack the node still syncs with an honest peer.
    static func stillSyncs(_ node: TestNode) async throws {
        let honest = try await TestNode { $0.storeSync.negentropy = false }
        honest.clock.advance(by: 3_600)
        let held = try await node.hashes(Self.topic).count
        let extra = try testMessages(count: 50, seed: 99)
        _ = try await honest.store.ingest(extra)
        let report = try await honest.node.sync(
            with: try honest.node.client(for: try #require(node.node.address)), pubsubTopic: Self.topic)
        #expect(report.need == held)
        #expect(report.fetched.stored == held)
        #expect(report.missing == 0)
        #expect(report.pushed == 50)
        #expect(try await node.hashes(Self.topic).isSuperset(of: extra.map(\.hash)))
        await honest.stop()
    }

    @Test func endlessFingerprintsEndAtTheRoundBound() async throws {
        let node = try await Self.node { $0.maximumRounds = 12 }
        let (_, connection) = try await Self.connect(node)
        let stream = try await connection.newStream([StoreSyncSettings.reconciliationProtocol])
        var rng = SplitMix64(seed: 3)
        // Every round a fingerprint that never matches over the whole archive, whatever the
        // node answered: it keeps splitting until the bound, then resets the stream.
        var sent = 0
        var replies = 0
        while sent < 100 {
            let upper = SyncKey(timestamp: 1_800_000_000_000_000_000)
            guard
                (try? await stream.writePrefixed(Self.payload([.init(upper: upper, content: .fingerprint(rng.hash()))])))
                    != nil
            else { break }
            sent += 1
            guard (try? await stream.readPrefixed(limit: 8 << 20, what: "reply")) ?? nil != nil else { break }
            replies += 1
        }
        #expect(replies == 12)
        #expect(try await node.hashes(Self.topic).count == 3_000)
        try await Self.stillSyncs(node)
        await node.stop()
    }

    @Test func tooManyRangesInOnePayloadAreRefusedBeforeAnyWork() async throws {
        let node = try await Self.node { $0.limits = DecodingLimits(maximumRanges: 1_000, maximumIds: 10_000) }
        let (_, connection) = try await Self.connect(node)
        let stream = try await connection.newStream([StoreSyncSettings.reconciliationProtocol])
        var rng = SplitMix64(seed: 4)
        let ranges = (1...1_001).map { index in
            RangesData.Range(upper: SyncKey(timestamp: UInt64(index) * 1_000), content: .fingerprint(rng.hash()))
        }
        try await stream.writePrefixed(Self.payload(ranges))
        #expect(await Self.repliesUntilClosed(stream) == 0)
        try await Self.stillSyncs(node)
        await node.stop()
    }

    @Test func anItemSetOfAMillionItemsIsRefusedByItsLengthPrefix() async throws {
        let node = try await Self.node()
        let (_, connection) = try await Self.connect(node)
        let stream = try await connection.newStream([StoreSyncSettings.reconciliationProtocol])
        // 10^6 items take at least 33 bytes each: announce the payload, send its first bytes.
        var rng = SplitMix64(seed: 5)
        let items = (0..<20_000).map { SyncKey(timestamp: UInt64($0), hash: rng.hash()) }
        var head = Array(
            RangesData(
                pubsubTopics: [], contentTopics: [], start: SyncKey(timestamp: 0),
                ranges: [.init(upper: SyncKey(timestamp: 1 << 62), content: .itemSet(items, reconciled: false))]
            ).encoded().prefix(600_000))
        var prefixed = ByteBuffer()
        var length = 1_000_000 * 33 + 64
        while length >= 0x80 {
            prefixed.writeInteger(UInt8(length & 0x7F | 0x80))
            length >>= 7
        }
        prefixed.writeInteger(UInt8(length))
        prefixed.writeBytes(head)
        head.removeAll()
        try await stream.write(prefixed)
        #expect(await Self.repliesUntilClosed(stream) == 0)
        try await Self.stillSyncs(node)
        await node.stop()
    }

    @Test func transfersNoSessionFoundMissingAreDroppedAndTheStreamReset() async throws {
        let node = try await Self.node { $0.unwantedPerStream = 20 }
        let (_, connection) = try await Self.connect(node)
        let stream = try await connection.newStream([StoreSyncTransfer.protocolID])
        let forged = try testMessages(count: 200, seed: 77)
        var written = 0
        for message in forged {
            guard
                (try? await stream.writePrefixed(ByteBuffer(bytes: StoreSyncTransfer(message: message).encoded)))
                    != nil
            else { break }
            written += 1
        }
        stream.closeWrite()
        _ = await Self.repliesUntilClosed(stream)
        #expect(try await node.hashes(Self.topic).count == 3_000)
        #expect(node.node.receiver.dropped.unwanted == 21)
        #expect(node.node.receiver.dropped.streamsReset == 1)
        try await Self.stillSyncs(node)
        await node.stop()
    }

    @Test func aSessionTakesOnlyWhatItFoundMissing() async throws {
        // Few enough that the node lists its keys at once, and so learns what it lacks.
        let node = try await Self.node(messages: 50)
        let (host, connection) = try await Self.connect(node)
        _ = host
        // The attacker holds one message the node lacks, and sends it with 30 it was never
        // found to hold, over its own transfer stream, once the session has found that one.
        let wanted = try testMessages(count: 1, seed: 1234)[0]
        let stream = try await connection.newStream([StoreSyncSettings.reconciliationProtocol])
        let wantedKey = try wanted.syncKey(using: SHA256Hasher())
        let items = try testMessages(count: 50, seed: 5).map { try $0.syncKey(using: SHA256Hasher()) } + [wantedKey]
        try await stream.writePrefixed(
            ByteBuffer(
                bytes: RangesData(
                    pubsubTopics: [], contentTopics: [], start: SyncKey(timestamp: 0),
                    ranges: [
                        .init(
                            upper: SyncKey(timestamp: 1_800_000_000_000_000_000),
                            content: .itemSet(items.sorted(), reconciled: false))
                    ]
                ).encoded()))
        let reply = try #require(try await stream.readPrefixed(limit: 8 << 20, what: "reply"))
        #expect(reply.readableBytes > 0)
        let transfer = try await connection.newStream([StoreSyncTransfer.protocolID])
        for message in try testMessages(count: 30, seed: 4321) + [wanted] {
            try await transfer.writePrefixed(ByteBuffer(bytes: StoreSyncTransfer(message: message).encoded))
        }
        transfer.closeWrite()
        _ = await Self.repliesUntilClosed(transfer)
        stream.close()
        #expect(await eventually { node.node.receiver.dropped.unwanted == 30 })
        #expect(
            try await node.hashes(Self.topic)
                == Set(try testMessages(count: 50, seed: 5).map(\.hash) + [wanted.hash]))
        try await Self.stillSyncs(node)
        await node.stop()
    }

    @Test func sessionsAndTransfersOverTheRateLimitAreReset() async throws {
        let node = try await TestNode(rateLimits: try RateLimitPolicy.parse(["reconcile:2/1m", "transfer:1/1m"])) {
            $0.storeSync.negentropy = false
        }
        let (_, connection) = try await Self.connect(node)
        let empty = Self.payload([.init(upper: SyncKey(timestamp: 1 << 60), content: .fingerprint(.zero))])
        var answered = 0
        for _ in 0..<3 {
            let stream = try await connection.newStream([StoreSyncSettings.reconciliationProtocol])
            // Over the limit the node resets the stream at once: the write may already fail.
            try? await stream.writePrefixed(empty)
            if (try? await stream.readPrefixed(limit: 1 << 20, what: "reply")) ?? nil != nil { answered += 1 }
            stream.close()
        }
        #expect(answered == 2)
        for seed in [UInt64(1), 2] {
            let stream = try await connection.newStream([StoreSyncTransfer.protocolID])
            let message = try testMessages(count: 1, seed: seed)[0]
            try? await stream.writePrefixed(ByteBuffer(bytes: StoreSyncTransfer(message: message).encoded))
            stream.closeWrite()
            _ = await Self.repliesUntilClosed(stream)
        }
        let samples = try PrometheusSamples(parsing: await node.endpoint.render())
        #expect(samples["storesync_requests_rejected_total", ["protocol": "reconcile", "code": "429"]] == 1)
        #expect(samples["storesync_requests_rejected_total", ["protocol": "transfer", "code": "429"]] == 1)
        // The transfer the node took was read, and dropped: no session asked for it.
        #expect(await eventually { node.node.receiver.dropped.unwanted == 1 })
        await node.stop()
    }
}
