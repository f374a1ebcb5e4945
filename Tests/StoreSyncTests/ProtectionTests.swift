import Foundation
import NIOCore
import StoreSyncCore
import StoreSyncNode
import StoreSyncProto
import StoreSyncTestSupport
import Synchronization
import Testing

@Suite("Protection: rate limits")
struct ProtectionTests {
    @Test func rateLimitSettingsParseLikeTheReferenceFlag() throws {
        let policy = try RateLimitPolicy.parse(["store:10/1s", "reconcile:5/1m", "30/500ms"])
        #expect(policy.limit(for: .storeQuery) == RateLimit(count: 10, periodSeconds: 1))
        #expect(policy.limit(for: .reconcile) == RateLimit(count: 5, periodSeconds: 60))
        #expect(policy.limit(for: .push) == RateLimit(count: 30, periodSeconds: 0.5))
        #expect(policy.limit(for: .transfer) == RateLimit(count: 30, periodSeconds: 0.5))
        #expect(try RateLimitPolicy.parse(["none"]) == .none)
        #expect(try RateLimitPolicy.parse([]) == .defaults)
        #expect(throws: ProtocolError.self) { try RateLimitPolicy.parse(["store:ten/1s"]) }
        #expect(throws: ProtocolError.self) { try RateLimitPolicy.parse(["gossip:1/1s"]) }
        #expect(throws: ProtocolError.self) { try RateLimitPolicy.parse(["5/1fortnight"]) }
    }

    @Test func tokenBucketsRefillAndForgetIdlePeers() {
        let limiter = RateLimiter(
            policy: RateLimitPolicy(limits: [.storeQuery: RateLimit(count: 3, periodSeconds: 1)], defaultLimit: nil),
            maximumPeers: 100)
        for _ in 0..<3 { #expect(limiter.admit(.storeQuery, peer: "a", now: 0) == .allowed) }
        #expect(limiter.admit(.storeQuery, peer: "a", now: 0) == .limited(retryAfterMilliseconds: 334))
        #expect(limiter.admit(.storeQuery, peer: "b", now: 0) == .allowed)  // another peer has its own bucket
        #expect(limiter.admit(.storeQuery, peer: "a", now: 0.34) == .allowed)  // one token back after 1/3 s
        #expect(limiter.admit(.reconcile, peer: "a", now: 0) == .allowed)  // unlimited protocol
        for index in 0..<1_000 { _ = limiter.admit(.storeQuery, peer: "p\(index)", now: 10 + Double(index) / 1_000) }
        #expect(limiter.trackedPeers <= 100)
    }

    @Test(arguments: ArchiveKind.allCases)
    func aFloodGets429sWhileAWellBehavedClientIsServed(archive: ArchiveKind) async throws {
        let limits = RateLimitPolicy(
            limits: [.storeQuery: RateLimit(count: 20, periodSeconds: 1)], defaultLimit: nil, globalMultiple: 50)
        try await archive.withNode(rateLimits: limits) { node in
            _ = try await node.archive.ingest(try testMessages(count: 30, seed: 3))
            var request = Waku_Store_V3_StoreQueryRequest()
            request.requestID = "q"
            request.paginationForward = true
            let payload = ByteBuffer(bytes: try request.serializedBytes() as [UInt8])

            // The flood: 300 queries back to back on one stream from 127.0.0.1, while the node's
            // clock stands still: its bucket of 20 is all it gets.
            let flooder = NodeClient(host: "127.0.0.1", port: node.node.port, localAddress: "127.0.0.1")
            /// The statuses of `count` queries sent back to back on one stream.
            func flood(_ count: Int) async throws -> [UInt32] {
                try await flooder.withStream(.storeQuery) { stream in
                    var statuses = [UInt32]()
                    for _ in 0..<count {
                        let reply = try await stream.request(payload)
                        statuses.append(
                            try Waku_Store_V3_StoreQueryResponse(serializedBytes: Array(buffer: reply)).statusCode)
                    }
                    return statuses
                }
            }
            let statuses = try await flood(300)
            #expect(statuses.count == 300, "every request is answered")
            #expect(statuses.filter { $0 == 200 }.count == 20)
            #expect(statuses.filter { $0 == 429 }.count == 280)
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 })

            // Meanwhile another peer, 127.0.0.2, is served: its own bucket is full.
            let polite = NodeClient(host: "127.0.0.1", port: node.node.port, localAddress: "127.0.0.2")
            for _ in 0..<10 {
                let response = try await polite.query(request)
                #expect(response.statusCode == 200)
                #expect(response.messages.count == 20)
            }
            #expect(node.node.counts.requestsLimited == 280)
            // A second on, the flooder's bucket has refilled: 20 more.
            node.clock.advance(by: 1)
            let refilled = try await flood(25)
            #expect(refilled == Array(repeating: 200, count: 20) + Array(repeating: 429, count: 5))
        }
    }

    @Test func aLimitedSyncGetsAClear429() async throws {
        let node = try await TestNode(
            rateLimits: RateLimitPolicy(limits: [.reconcile: RateLimit(count: 1, periodSeconds: 60)], defaultLimit: nil)
        )
        let other = try await TestNode()
        _ = try await node.client.sync(store: other.store, pubsubTopic: "/waku/2/rs/0/0")
        await #expect {
            _ = try await node.client.sync(store: other.store, pubsubTopic: "/waku/2/rs/0/0")
        } throws: { error in
            guard case PeerError.status(429, let message, let wait?) = error else { return false }
            return message.hasPrefix("rate limited, retry after") && wait > 0
        }
        await other.stop()
        await node.stop()
    }
}

@Suite("Protection: timeouts and connection bounds")
struct TimeoutTests {
    @Test func aSlowlorisClientIsCutOffAndTheNodeKeepsServing() async throws {
        let node = try await TestNode { configuration in
            configuration.handshakeTimeout = 0.5
            configuration.idleTimeout = 0.5
        }
        // A 100-byte frame announced and 10 of its bytes sent: never a complete frame, so never
        // a hello. The node's clock then passes the handshake timeout.
        let channel = try await RawPeer(port: node.node.port).connect()
        let frame = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: [0, 0, 0, 100] + [UInt8](repeating: 2, count: 6)))
            let mover = ClockMover(node.clock, stepsUpTo: 1)
            var iterator = inbound.makeAsyncIterator()
            let frame = try await iterator.next()
            #expect(await mover.stop() >= 0.5 - 1e-6, "cut off only once the timeout had passed on the node's clock")
            return frame
        }
        guard case .error(408, let message, _)? = frame else {
            Issue.record("slowloris got \(String(describing: frame))")
            return
        }
        #expect(message.contains("no hello"))
        // The node still serves a normal client.
        let other = try await TestNode()
        #expect(try await node.client.sync(store: other.store, pubsubTopic: "/waku/2/rs/0/0").rounds == 1)
        await other.stop()
        await node.stop()
    }

    @Test func aStreamThatGoesQuietIsClosed() async throws {
        let node = try await TestNode { $0.idleTimeout = 0.3 }
        var request = Waku_Store_V3_StoreQueryRequest()
        request.paginationForward = true
        let payload = ByteBuffer(bytes: try request.serializedBytes() as [UInt8])
        let (reply, advanced) = try await node.framingClient.withStream(.storeQuery) { stream -> (Frame?, Double) in
            // One request answered, then nothing: the node closes once its idle timeout passes.
            _ = try await stream.request(payload)
            let mover = ClockMover(node.clock, stepsUpTo: 1)
            let frame = try await stream.waitForClose()
            return (frame, await mover.stop())
        }
        guard case .error(408, let message, _)? = reply else {
            Issue.record("quiet stream got \(String(describing: reply))")
            return
        }
        #expect(message.contains("no complete frame"))
        #expect(advanced >= 0.3 - 1e-6)
        await node.stop()
    }

    @Test func connectionsBeyondTheBoundGet503AndFreeSlotsAreReused() async throws {
        let node = try await TestNode { configuration in
            configuration.maximumConnections = 3
            configuration.maximumConnectionsPerPeer = 3
        }
        let raw = RawPeer(port: node.node.port)
        let refused = try await raw.holdOpen {
            try await raw.holdOpen {
                try await raw.holdOpen {
                    // Three idle connections hold every slot.
                    #expect(await eventually { node.node.openConnections == 3 })
                    return try await raw.exchange(frames: [.hello(protocolId: 3, version: StreamProtocol.version)])
                }
            }
        }
        guard case .error(503, _, _)? = refused else {
            Issue.record("fourth connection got \(String(describing: refused))")
            return
        }
        #expect(await eventually { node.node.openConnections == 0 })
        let other = try await TestNode()
        #expect(try await node.client.sync(store: other.store, pubsubTopic: "/waku/2/rs/0/0").rounds == 1)
        await other.stop()
        await node.stop()
    }
}

@Suite("Protection: bandwidth and garbage")
struct BandwidthTests {
    @Test func aPeerOverItsBandwidthIsSlowedNotRefused() async throws {
        let node = try await TestNode { $0.bandwidthPerPeer = 200_000 }
        // A 600 kB query (its request id padded): the first 200 kB pass at once, the rest at
        // 200 kB/s, so the answer cannot come before 2 s have passed on the node's clock, and it
        // still comes.
        var request = Waku_Store_V3_StoreQueryRequest()
        request.requestID = String(repeating: "x", count: 600_000)
        request.paginationForward = true
        let mover = ClockMover(node.clock, stepsUpTo: 1)
        let response = try await node.framingClient.query(request)
        let advanced = await mover.stop()
        #expect(response.statusCode == 200)
        #expect(advanced >= 1.9 && advanced <= 2.5, "the node's clock moved \(advanced) s")
        await node.stop()
    }

    @Test func aLibp2pPeerOverItsBandwidthIsSlowedNotRefused() async throws {
        let node = try await TestNode(allowPush: true) { $0.bandwidthPerPeer = 200_000 }
        // A push of 600 kB over libp2p: the first 200 kB pass at once, the stream is not read
        // further until the node's clock has paid for the rest at 200 kB/s, and all is stored.
        let messages = try (0..<4).map { index in
            try WakuMessage(
                pubsubTopic: "/waku/2/rs/0/0", contentTopic: "/test/1/big/proto",
                payload: [UInt8](repeating: UInt8(index), count: 150_000),
                timestamp: 1_700_000_000_000_000_000 - Int64(index) * 1_000_000_000)
        }
        // The clock keeps moving until the node stops: its stream may still owe for the bytes
        // that end it.
        let mover = ClockMover(node.clock, stepsUpTo: 1)
        let started = node.clock.uptime()
        let counts = try await node.client.push(messages)
        let advanced = node.clock.uptime() - started
        #expect(counts.stored == 4)
        #expect(advanced >= 1.9 && advanced <= 2.5, "the node's clock moved \(advanced) s")
        #expect(try node.store.messageCount() == 4)
        await node.stop()
        _ = await mover.stop()
    }

    @Test(arguments: StreamProtocol.allCases)
    func garbageOnEveryProtocolGetsAnErrorAndTheNodeKeepsServing(streamProtocol: StreamProtocol) async throws {
        let node = try await TestNode(allowPush: true)
        _ = try await node.store.ingest(try testMessages(count: 20, seed: 2))
        var rng = SplitMix64(seed: UInt64(streamProtocol.rawValue))
        for _ in 0..<5 {
            let garbage = ByteBuffer(
                bytes: (0..<Int(1 + rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            let answer = try await RawPeer(port: node.node.port).exchange(frames: [
                .hello(protocolId: streamProtocol.rawValue, version: StreamProtocol.version), .data(garbage),
            ])
            switch answer {
            case .error(let code, _, _)?:
                #expect([400, 413].contains(code), "\(streamProtocol): \(code)")
            case .data(let reply)?:
                // Store v3 answers in its own format: a 400 inside a response.
                #expect(streamProtocol == .storeQuery, "\(streamProtocol) answered garbage with data")
                if streamProtocol == .storeQuery {
                    let response = try? Waku_Store_V3_StoreQueryResponse(serializedBytes: Array(buffer: reply))
                    #expect(response.map { [200, 400].contains($0.statusCode) } ?? true)
                }
            case nil, .end?, .hello?:
                break
            }
        }
        let other = try await TestNode()
        let report = try await node.client.sync(store: other.store, pubsubTopic: "/waku/2/rs/0/0")
        #expect(report.need == 20)
        #expect(try node.store.messageCount() >= 20)
        try node.store._checkInvariants()
        await other.stop()
        await node.stop()
    }
}

@Suite("Protection: the client side")
struct RetryTests {
    @Test func backoffDoublesWithJitterUpToTheCap() {
        let policy = RetryPolicy(initialDelay: 1, maximumDelay: 8, maximumAttempts: 10)
        var generator = SplitMix64(seed: 4)
        for retry in 1...8 {
            let backoff = min(8, Double(1 << (retry - 1)))
            let delay = policy.delay(forRetry: retry, using: &generator)
            #expect(delay >= backoff / 2 && delay <= backoff, "retry \(retry): \(delay)")
        }
    }

    @Test func aRefusedQueryIsRetriedUntilServed() async throws {
        let node = try await TestNode(
            rateLimits: RateLimitPolicy(limits: [.storeQuery: RateLimit(count: 1, periodSeconds: 5)], defaultLimit: nil)
        )
        var request = Waku_Store_V3_StoreQueryRequest()
        request.paginationForward = true
        let client = node.client
        // Empty the bucket: the first query is served, the second refused.
        #expect(try await client.query(request).statusCode == 200)
        #expect(try await client.query(request).statusCode == 429)
        // The next query is refused too. A Store v3 response has no field for a retry hint, and
        // the client parses no prose: it waits its own backoff (at most 0.05 s) on its clock.
        let clientClock = ManualScheduler(start: 0)
        let patient = NodeClient(host: "127.0.0.1", port: node.node.port, clock: clientClock)
        let query = request
        let retrying = Task {
            try await patient.withRetries(RetryPolicy(initialDelay: 0.05, maximumDelay: 1)) {
                let response = try await patient.query(query)
                if response.statusCode == 429 {
                    throw PeerError.status(code: 429, message: response.statusDesc)
                }
                return response
            }
        }
        // The client's clock also times its streams' reads (60 s); its backoff is the sleep due sooner.
        #expect(await eventually { (clientClock.nextDeadline ?? .infinity) < 10 })
        let wait = try #require(clientClock.nextDeadline)
        #expect(wait >= 0.025 - 1e-9 && wait <= 0.05 + 1e-9, "the client waits its own backoff: \(wait)")
        node.clock.advance(by: 5)
        clientClock.advance(by: wait)
        let (response, attempts) = try await retrying.value
        #expect(response.statusCode == 200)
        #expect(attempts == 2)
        // A request that is simply wrong comes back as its 400, through any 429s on the way.
        node.clock.advance(by: 5)
        var wrong = request
        wrong.pubsubTopic = "only a pubsub topic"
        let refused = try await client.query(wrong, retrying: RetryPolicy(initialDelay: 0.05, maximumDelay: 1))
        #expect(refused.statusCode == 400)
        await node.stop()
    }
}
