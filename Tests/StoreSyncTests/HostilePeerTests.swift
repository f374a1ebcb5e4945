import Foundation
import NIOCore
import NIOPosix
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncProto
import StoreSyncTestSupport
import Testing

/// The node driven the way an attacker would, over real sockets: each test is a defect a review
/// found (or one of its kind), and fails on the node as it was before the fix.
@Suite("Hostile peers")
struct HostilePeerTests {
    static let topic = "/waku/2/rs/0/0"

    /// Messages 1 ms apart from the start of the test nodes' clocks.
    static func messages(_ count: Int, seed: UInt64, from start: Int = 0, payload: Int = 40) throws -> [WakuMessage] {
        var rng = SplitMix64(seed: seed)
        return try (0..<count).map { index in
            try WakuMessage(
                pubsubTopic: topic, contentTopic: "/hostile/1/c/proto",
                payload: (0..<payload).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
                timestamp: 1_700_000_000_000_000_000 + Int64(start + index) * 1_000_000)
        }
    }

    /// An offer of `messages` on a transfer stream of its own, as any peer can send one.
    static func offer(_ messages: [WakuMessage], to node: TestNode, window: Range<UInt64> = 0..<UInt64.max)
        async throws -> StoreCounts
    {
        try await node.client.withStream(.transfer) { stream in
            var container = Waku_Store_V3_StoreQueryResponse()
            container.messages = messages.map { $0.keyValue(hash: $0.hash) }
            var request = ByteBuffer()
            TransferRequest.offer(
                pubsubTopic: topic, window: window,
                messages: ByteBuffer(bytes: try container.serializedBytes() as [UInt8])
            ).encode(into: &request)
            var reply = try await stream.request(request)
            return try StoreCounts(decoding: &reply)
        }
    }

    // MARK: Data loss

    @Test func offersWithoutASessionAreRefusedOnANodeThatTakesNoPushes() async throws {
        let node = try await TestNode()
        let offered = try Self.messages(5, seed: 1)
        await #expect {
            _ = try await Self.offer(offered, to: node)
        } throws: { error in
            guard case PeerError.status(403, _, _) = error else { return false }
            return true
        }
        #expect(try await node.store.read { try $0.messageCount() } == 0)
        #expect(node.node.counts.offersForbidden == 5)
    }

    @Test func offersFallOnlyWhereThePeersSessionShowedADifference() async throws {
        let node = try await TestNode()
        let shared = try Self.messages(200, seed: 2)
        _ = try await node.store.ingest(shared)
        // The peer holds the same and one more, in the middle: the session lists ids only around it.
        let extra = try Self.messages(1, seed: 3, from: 100)[0]
        let peer = try MessageStore(
            StoreConfiguration(directory: node.directory.sub("peer"), durability: .noSync))
        _ = try await peer.ingest(shared + [extra])
        let report = try await node.client.sync(store: peer, pubsubTopic: Self.topic)
        #expect(report.have == 1 && report.sent.stored == 1, "the honest offer after the session is taken")
        #expect(try await node.store.read { try $0.message(for: extra.hash) } != nil)
        // Another message, far from the difference the session found, is refused with 403.
        let elsewhere = try Self.messages(1, seed: 4, from: 10)[0]
        await #expect {
            _ = try await Self.offer([elsewhere], to: node)
        } throws: { error in
            guard case PeerError.status(403, _, _) = error else { return false }
            return true
        }
        #expect(try await node.store.read { try $0.message(for: elsewhere.hash) } == nil)
    }

    @Test func futureMessagesAndOtherTopicsAreRefusedOnEveryPath() async throws {
        let node = try await TestNode(allowPush: true)
        let now = Int64(node.clock.now())
        var soon = try Self.messages(1, seed: 5)[0]
        soon.timestamp = now + 19_000_000_000
        var late = try Self.messages(1, seed: 6)[0]
        late.timestamp = now + 21_000_000_000
        var foreign = try Self.messages(1, seed: 7)[0]
        foreign.pubsubTopic = "/waku/2/rs/9/9"
        var oversize = try Self.messages(1, seed: 8, payload: 150 << 10)[0]
        oversize.timestamp = now
        let pushed = try await node.client.push([soon, late, foreign, oversize])
        #expect(pushed == StoreCounts(stored: 1, rejected: 3))
        #expect(try await node.store.read { try $0.messageCount() } == 1)
        // A reconcile session for a topic the node does not store is a 404.
        let other = try MessageStore(StoreConfiguration(directory: node.directory.sub("other"), durability: .noSync))
        await #expect {
            _ = try await node.client.sync(store: other, pubsubTopic: "/waku/2/rs/9/9")
        } throws: { error in
            guard case PeerError.status(404, _, _) = error else { return false }
            return true
        }
        // Fetched from a peer, the future message is refused by the fetching side's clock.
        let source = try await TestNode()
        _ = try await source.store.ingest([late])
        let client = NodeClient(
            host: "127.0.0.1", port: source.node.port, readTimeout: 600, clock: node.clock)
        let report = try await client.sync(store: other, pubsubTopic: Self.topic)
        #expect(report.need == 1 && report.fetched.rejected == 1 && report.fetched.stored == 0)
        await source.stop()
        await node.stop()
    }

    @Test func aMessageNoReplyCanCarryStaysPendingAndAnotherPeerServesIt() async throws {
        // A peer whose frames cannot carry one of its messages (it predates the size limit).
        let small = try await TestNode { $0.maximumFrameSize = 128 << 10 }
        let large = try await TestNode()
        let batch = try Self.messages(300, seed: 9)
        var big = try Self.messages(1, seed: 10, from: 150, payload: 140 << 10)[0]
        big.timestamp += 1
        _ = try await small.store.ingest(batch + [big])
        _ = try await large.store.ingest([big])
        let local = try await TestNode()
        let report = try await local.node.sync(with: small.client, pubsubTopic: Self.topic)
        #expect(report.fetched.stored == 300, "the rest of the batch arrives")
        #expect(report.unserved == [big.hash], "the key is not treated as done")
        let pending = try await local.node.pending(
            report.unserved, pubsubTopic: Self.topic, peers: [small.client, large.client], logger: .init(label: "t"))
        #expect(pending.fetched == 1 && pending.left.isEmpty)
        for node in [small, large, local] { await node.stop() }
    }

    @Test func aCountCapDoesNotFetchWhatItWouldEvict() async throws {
        let node = try await TestNode(retention: RetentionPolicy(maximumCount: 100))
        let kept = try Self.messages(100, seed: 11, from: 50)
        _ = try await node.store.ingest(kept)
        let oldest = try #require(try await node.store.read { try $0.statistics().oldestKey })
        // The peer holds a message at the oldest timestamp with a smaller hash: it would be the
        // first evicted. The node reconciles past it, twice, and deletes nothing.
        var twin = kept[0]
        var salt = 0
        repeat {
            twin.payload = Array("twin \(salt)".utf8)
            salt += 1
        } while SyncKey(timestamp: UInt64(twin.timestamp), hash: twin.hash) >= oldest
        let peer = try await TestNode()
        _ = try await peer.store.ingest(kept + [twin])
        for _ in 0..<2 {
            let report = try await node.node.sync(with: peer.client, pubsubTopic: Self.topic)
            #expect(report.need == 0 && report.fetched.stored == 0)
        }
        #expect(node.store.retentionDeletions.total == 0)
        // A push of a message older than all kept says so: it is not "stored".
        let pushNode = try await TestNode(allowPush: true, retention: RetentionPolicy(maximumCount: 100))
        _ = try await pushNode.store.ingest(kept)
        let counts = try await pushNode.client.push(try Self.messages(1, seed: 12, from: 0))
        #expect(counts == StoreCounts(evicted: 1))
        for node in [node, peer, pushNode] { await node.stop() }
    }

    @Test func aSizeCapWithPinnedPagesAnswers503AndKeepsItsMessages() async throws {
        let node = try await TestNode(allowPush: true, retention: RetentionPolicy(maximumBytes: 2 << 20))
        // Filled until retention has started to prune: the store sits at its policy's marks.
        var round = 0
        while node.store.retentionDeletions.total == 0 {
            _ = try await node.store.ingest(
                try Self.messages(100, seed: UInt64(round), from: round * 100, payload: 1_000))
            round += 1
        }
        let opened = Counter()
        let release = DispatchSemaphore(value: 0)
        let store = node.store
        // A reader holds a snapshot open on a thread of its own: no page freed after it can be reused.
        let reader = Thread {
            try? store.withSnapshot(pubsubTopic: Self.topic) { _ in
                opened.increment()
                release.wait()
            }
        }
        reader.start()
        #expect(await eventually { opened.value == 1 })
        var most = 0
        var refusal: PeerError?
        var unavailable = 0
        for round in round..<(round + 200) where refusal == nil && unavailable == 0 {
            let before = try await store.read { try $0.messageCount() }
            do {
                let counts = try await node.client.push(
                    try Self.messages(300, seed: UInt64(round), from: round * 300, payload: 1_000))
                unavailable = counts.unavailable
                // Each outcome as it is: what is reported stored is what the store gained.
                #expect(try await store.read { try $0.messageCount() } - before == counts.stored)
            } catch let error as PeerError {
                refusal = error
                // A 503 stored nothing of its frame.
                #expect(try await store.read { try $0.messageCount() } == before, "a 503 that stored part of its push")
            }
            most = max(most, try await store.read { try $0.messageCount() })
        }
        release.signal()
        if let refusal {
            guard case .status(503, _, _) = refusal else {
                Issue.record("expected 503, got \(refusal)")
                return
            }
        } else {
            #expect(unavailable > 0, "the map never filled")
        }
        // Pruning stopped at the policy's low-water mark: the store was not emptied to make room.
        let left = try await store.read { try $0.messageCount() }
        #expect(left * 2 >= most, "kept \(left) of at most \(most)")
        await node.stop()
    }

    // MARK: Unbounded work

    @Test func anEmptyIdListToInfinityCostsOneFrameOfWork() throws {
        var rng = SplitMix64(seed: 17)
        let keys = (0..<200_000).map { SyncKey(timestamp: UInt64($0), hash: rng.hash()) }
        let storage = CountingStorage(SortedKeyStorage(keys))
        let responder = try Reconciler(frameSizeLimit: 64 << 10, policy: .adaptive)
        let attack: [UInt8] = [0x61, 0x00, 0x00, 0x02, 0x00]
        for round in 1...3 {
            let reply = try responder.respond(to: attack, storage: storage)
            #expect(reply.count <= 64 << 10)
            #expect(storage.keysVisited <= round * ((64 << 10) / 32 + 1), "round \(round): \(storage.keysVisited)")
        }
        // The session's budget refuses the rounds and keys beyond it.
        let bounded = try Reconciler(
            frameSizeLimit: 64 << 10, policy: .adaptive, budget: SessionBudget(maximumRounds: 2, maximumKeys: .max))
        _ = try bounded.respond(to: attack, storage: storage)
        _ = try bounded.respond(to: attack, storage: storage)
        #expect(throws: ReconcilerError.overBudget("more than 2 rounds")) {
            try bounded.respond(to: attack, storage: storage)
        }
    }

    @Test func aSessionOverItsBudgetIsCutOffWith413() async throws {
        let node = try await TestNode {
            $0.sessionBudget = SessionBudget(maximumRounds: 2, maximumKeys: .max)
        }
        _ = try await node.store.ingest(try Self.messages(50, seed: 13))
        var open = ByteBuffer()
        ReconcileOpen(pubsubTopic: Self.topic, window: 0..<UInt64.max, message: [0x61, 0x00, 0x00, 0x02, 0x00])
            .encode(into: &open)
        let channel = try await RawPeer(port: node.node.port).connect()
        let frames = try await channel.executeThenClose { inbound, outbound in
            var bytes = ByteBuffer()
            FrameEncoder().encode(data: .hello(protocolId: 1, version: StreamProtocol.version), out: &bytes)
            FrameEncoder().encode(data: .data(open), out: &bytes)
            for _ in 0..<2 {
                FrameEncoder().encode(data: .data(ByteBuffer(bytes: [0x61, 0x00, 0x00, 0x02, 0x00])), out: &bytes)
            }
            try await outbound.write(bytes)
            var received = [Frame]()
            for try await frame in inbound { received.append(frame) }
            return received
        }
        #expect(frames.count == 3)
        guard case .error(413, let message, _)? = frames.last else {
            Issue.record("expected 413, got \(frames)")
            return
        }
        #expect(message.contains("2 rounds"))
        await node.stop()
    }

    @Test func peersHoldingEveryInboundSlotDoNotBlockTheNodesOwnSyncs() async throws {
        let node = try await TestNode { $0.maximumInboundSessions = 1 }
        let peer = try await TestNode()
        _ = try await peer.store.ingest(try Self.messages(20, seed: 14))
        var open = ByteBuffer()
        ReconcileOpen(pubsubTopic: Self.topic, window: 0..<UInt64.max, message: [0x61]).encode(into: &open)
        let channel = try await RawPeer(port: node.node.port).connect()
        try await channel.executeThenClose { inbound, outbound in
            var bytes = ByteBuffer()
            FrameEncoder().encode(data: .hello(protocolId: 1, version: StreamProtocol.version), out: &bytes)
            FrameEncoder().encode(data: .data(open), out: &bytes)
            try await outbound.write(bytes)
            var frames = inbound.makeAsyncIterator()
            _ = try await frames.next()  // the session is under way and holds the only inbound slot
            await #expect {
                _ = try await node.client.sync(store: peer.store, pubsubTopic: Self.topic)
            } throws: { error in
                guard case PeerError.status(503, _, _) = error else { return false }
                return true
            }
            let report = try await node.node.sync(with: peer.client, pubsubTopic: Self.topic)
            #expect(report.fetched.stored == 20)
        }
        await peer.stop()
        await node.stop()
    }

    @Test func aResponderThatListsTheWholeWindowMeetsTheInitiatorsBudget() async throws {
        let responder = try await ScriptedResponder.start { round in
            // Every round: "my ids up to infinity: none", then it never ends the session.
            round == 0
                ? ByteBuffer(bytes: [0x61, 0x00, 0x00, 0x02, 0x00]) : ByteBuffer(bytes: [0x61, 0x00, 0x00, 0x01])
        }
        let directory = try TemporaryDirectory()
        let store = try MessageStore(StoreConfiguration(directory: directory.sub("s"), durability: .noSync))
        _ = try await store.ingest(try Self.messages(5_000, seed: 15))
        let client = NodeClient(host: "127.0.0.1", port: responder.port, readTimeout: 600)
        await #expect(throws: ReconcilerError.overBudget("more than 1000 keys enumerated")) {
            _ = try await client.sync(
                store: store, pubsubTopic: Self.topic,
                limits: SessionLimits(budget: SessionBudget(maximumRounds: 10, maximumKeys: 1_000)))
        }
        await responder.stop()
    }

    @Test func aResponderThatTricklesIsCutOffAtTheSessionDeadline() async throws {
        let responder = try await ScriptedResponder.start { _ in nil }
        let directory = try TemporaryDirectory()
        let store = try MessageStore(StoreConfiguration(directory: directory.sub("s"), durability: .noSync))
        let clock = ManualScheduler(start: 1_700_000_000_000_000_000)
        let client = NodeClient(host: "127.0.0.1", port: responder.port, readTimeout: 600, clock: clock)
        let syncing = Task {
            try await client.sync(store: store, pubsubTopic: Self.topic, limits: SessionLimits(maximumDuration: 30))
        }
        #expect(await eventually { clock.nextDeadline != nil })
        clock.advance(by: 30)
        await #expect {
            _ = try await syncing.value
        } throws: { error in
            guard case PeerError.sessionTooLong = error else { return false }
            return true
        }
        await responder.stop()
    }

    // MARK: Small ones

    @Test func aHugeRetryHintWaitsAtMostThePolicysLongestDelay() async throws {
        let clock = ManualScheduler(start: 0)
        let client = NodeClient(host: "127.0.0.1", port: 1, clock: clock)
        let attempts = Counter()
        let retrying = Task {
            try await client.withRetries(RetryPolicy(initialDelay: 1, maximumDelay: 30, maximumAttempts: 2)) {
                attempts.increment()
                if attempts.value == 1 {
                    throw PeerError.status(code: 429, message: "slow down", retryAfter: 1e13)
                }
                return 7
            }
        }
        #expect(await eventually { clock.nextDeadline != nil })
        #expect(try #require(clock.nextDeadline) <= 30)
        clock.advance(by: 30)
        #expect(try await retrying.value.result == 7)
    }

    @Test func localErrorsAreNeverRetried() async throws {
        let client = NodeClient(host: "127.0.0.1", port: 1, clock: ManualScheduler(start: 0))
        let attempts = Counter()
        await #expect(throws: StoreError.self) {
            _ = try await client.withRetries(RetryPolicy(maximumAttempts: 5)) {
                attempts.increment()
                throw StoreError.closed
            }
        }
        #expect(attempts.value == 1)
    }

    @Test func oneTableOfStatusCodesAndOneCodePerFailure() {
        // Every code the node sends is in the table, each once, and only 408, 429 and 503 are
        // worth retrying.
        let codes = StatusCode.table.map(\.code.rawValue)
        #expect(Set(codes).count == codes.count)
        #expect(Set(codes).isSuperset(of: [200, 400, 403, 404, 408, 413, 426, 429, 500, 503]))
        #expect(StatusCode.table.filter(\.code.isRetryable).map(\.code.rawValue) == [408, 429, 503])
        // A full or closed store is a retryable 503 whichever service met it; the Store v3 path
        // and the framed protocols share this mapping.
        #expect(ProtocolError.answering(StoreError.mapFull(mapSize: 1, maximumMapSize: 1)).code == .unavailable)
        #expect(ProtocolError.answering(StoreError.closed).code == .unavailable)
        #expect(ProtocolError.answering(StoreError.invalidRequest("x")).code == .badRequest)
        #expect(ProtocolError.answering(StoreError.corruptRecord(what: "x", detail: "y")).code == .internalError)
        #expect(ProtocolError.answering(ReconcilerError.overBudget("x")).code == .payloadTooLarge)
        #expect(ProtocolError.answering(FrameError.overBudget("x", connection: false)).code == .unavailable)
        #expect(ProtocolError.answering(FrameError.overBudget("x", connection: true)).code == .payloadTooLarge)
    }

    @Test func idleBucketsAreForgottenWithTheirOwnProtocolsPeriod() {
        let limiter = RateLimiter(
            policy: RateLimitPolicy(
                limits: [
                    .reconcile: RateLimit(count: 1, periodSeconds: 60),
                    .storeQuery: RateLimit(count: 1, periodSeconds: 1),
                ],
                defaultLimit: nil),
            maximumPeers: 2)
        #expect(limiter.admit(.reconcile, peer: "a", now: 0) == .allowed)
        #expect(limiter.admit(.storeQuery, peer: "b", now: 0) == .allowed)
        // A third peer pushes the table past its size two seconds later: b's query bucket has
        // refilled (1 s period) and goes; a's reconcile bucket is 2 s into its 60 s period, so
        // it is not idle and stays.
        #expect(limiter.admit(.storeQuery, peer: "c", now: 2) == .allowed)
        #expect(limiter.trackedPeers == 2)
        guard case .limited = limiter.admit(.reconcile, peer: "a", now: 2) else {
            Issue.record("a's reconcile bucket was forgotten while still in its period")
            return
        }
    }

    @Test func aReconcileStreamClosedMidSessionIsNotCountedOK() async throws {
        let node = try await TestNode()
        _ = try await node.store.ingest(try Self.messages(100, seed: 16))
        var open = ByteBuffer()
        ReconcileOpen(
            pubsubTopic: Self.topic, window: 0..<UInt64.max,
            message: [0x61, 0x00, 0x00, 0x01] + [UInt8](repeating: 0, count: 16)
        )
        .encode(into: &open)
        _ = try await RawPeer(port: node.node.port).exchange(frames: [
            .hello(protocolId: 1, version: StreamProtocol.version), .data(open),
        ])
        #expect(
            await eventually(asking: {
                let samples = try PrometheusSamples(parsing: await node.endpoint.render())
                return samples["storesync_sync_sessions_total", ["role": "responder", "outcome": "closed"]] == 1
            }))
        await node.stop()
    }
}

/// Storage that counts the keys enumerated through it.
final class CountingStorage: ReconciliationStorage, @unchecked Sendable {
    let base: SortedKeyStorage
    private(set) var keysVisited = 0

    init(_ base: SortedKeyStorage) {
        self.base = base
    }

    func count() -> Int { base.count() }
    func key(at index: Int) -> SyncKey { base.key(at: index) }
    func lowerBound(of key: SyncKey, in range: Range<Int>) -> Int { base.lowerBound(of: key, in: range) }
    func accumulator(of range: Range<Int>) -> Accumulator { base.accumulator(of: range) }
    func forEachKey(in range: Range<Int>, _ body: (SyncKey) throws -> Bool) throws {
        try base.forEachKey(in: range) { key in
            keysVisited += 1
            return try body(key)
        }
    }
}

/// A peer that answers every reconcile message with what `reply(round)` gives (nothing: it stays
/// silent), whatever it was asked.
final class ScriptedResponder: Sendable {
    private let server: FramedTestServer
    var port: Int { server.port }

    private init(server: FramedTestServer) {
        self.server = server
    }

    static func start(reply: @escaping @Sendable (Int) -> ByteBuffer?) async throws -> ScriptedResponder {
        let server = try await FramedTestServer { connection in
            try await connection.executeThenClose { frames, outbound in
                var round = 0
                for try await frame in frames {
                    guard case .data = frame else { continue }
                    if let answer = reply(round) { try await outbound.write(.data(answer)) }
                    round += 1
                }
            }
        }
        return ScriptedResponder(server: server)
    }

    func stop() async {
        await server.stop()
    }
}
