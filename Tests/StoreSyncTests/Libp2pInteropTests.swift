import Foundation
import NIOCore
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncP2P
import StoreSyncProto
import StoreSyncTestSupport
import Testing

/// The node against py-libp2p, an implementation of libp2p this project did not write: Noise
/// with both key types, yamux and mplex, identify, Waku metadata and Store v3, both directions.
@Suite("libp2p against py-libp2p", .serialized, .timeLimit(.minutes(10)))
struct Libp2pInteropTests {
    static let topic = "/waku/2/rs/0/0"
    static let transports = [
        ("ed25519", "yamux"), ("ed25519", "mplex"), ("secp256k1", "yamux"), ("secp256k1", "mplex"),
    ]

    static func sorted(_ messages: [WakuMessage]) -> [WakuMessage] {
        messages.sorted {
            SyncKey(timestamp: UInt64($0.timestamp), hash: $0.hash)
                < SyncKey(timestamp: UInt64($1.timestamp), hash: $1.hash)
        }
    }

    @Test(arguments: transports)
    func pyLibp2pQueriesTheStore(keyType: String, muxer: String) async throws {
        let node = try await TestNode()
        let messages = try testMessages(count: 120, seed: 41)
        _ = try await node.store.ingest(Array(messages.prefix(100)))
        let address = try #require(node.node.address)
        let peer = try await PyLibp2pPeer.dialing(address.description, keyType: keyType, muxer: muxer)
        let stored = Self.sorted(Array(messages.prefix(100)))

        // By hash, with and without data: only what the node holds, in its order.
        let asked = [messages[3].hash, messages[110].hash, messages[50].hash]
        let withData = try await peer.query(StoreQueryTests.request { $0.messageHashes = asked.map { Data($0.bytes) } })
        #expect(withData.statusCode == 200)
        #expect(withData.requestID == "r1")
        #expect(
            Set(withData.messages.map { Array($0.messageHash) }) == [messages[3].hash.bytes, messages[50].hash.bytes])
        #expect(withData.messages.allSatisfy { $0.hasMessage && $0.pubsubTopic == Self.topic })
        let payloads = Dictionary(uniqueKeysWithValues: messages.map { ($0.hash.bytes, Data($0.payload)) })
        #expect(withData.messages.allSatisfy { payloads[Array($0.messageHash)] == $0.message.payload })
        let presence = try await peer.query(
            StoreQueryTests.request {
                $0.includeData = false
                $0.messageHashes = asked.map { Data($0.bytes) }
            })
        #expect(presence.messages.count == 2)
        #expect(presence.messages.allSatisfy { !$0.hasMessage })

        // By content topic and time range, forward and backward to the end.
        let start = messages[10].timestamp
        let end = messages[90].timestamp
        let matching = stored.filter {
            $0.timestamp >= start && $0.timestamp < end && $0.contentTopic == "/test/1/c1/proto"
        }
        let base = StoreQueryTests.request {
            $0.pubsubTopic = Self.topic
            $0.contentTopics = ["/test/1/c1/proto"]
            $0.timeStart = start
            $0.timeEnd = end
            $0.paginationLimit = 7
        }
        let forward = try await StoreQueryTests.allPages(peer, base)
        #expect(forward.joined().map { $0 } == matching.map(\.hash))
        var backwardBase = base
        backwardBase.paginationForward = false
        let backward = try await StoreQueryTests.allPages(peer, backwardBase)
        #expect(backward.reversed().joined().map { $0 } == matching.map(\.hash))

        // Everything, in pages of the default size.
        let everything = try await StoreQueryTests.allPages(peer, StoreQueryTests.request { _ in })
        #expect(everything.joined().map { $0 } == stored.map(\.hash))
        await peer.stop()
        await node.stop()
    }

    @Test func malformedRequestsGet400AndFloodsGet429AndTheNodeKeepsServing() async throws {
        let node = try await TestNode(
            rateLimits: RateLimitPolicy(
                limits: [.storeQuery: RateLimit(count: 5, periodSeconds: 10)], defaultLimit: nil))
        _ = try await node.store.ingest(try testMessages(count: 10, seed: 42))
        let address = try #require(node.node.address)
        let peer = try await PyLibp2pPeer.dialing(address.description, keyType: "ed25519", muxer: "yamux")
        let malformed = try Waku_Store_V3_StoreQueryResponse(
            serializedBytes: try await peer.request(StoreNode.storeQueryProtocol, [0xFF, 0xFF, 0xFF]))
        #expect(malformed.statusCode == 400)

        let good = try StoreQueryTests.request { _ in }.serializedBytes() as [UInt8]
        let answers = try await peer.requests(StoreNode.storeQueryProtocol, good, count: 8)
            .map { try Waku_Store_V3_StoreQueryResponse(serializedBytes: $0) }
        // One token went to the malformed request: four more are served, then 429 with "N/A".
        #expect(answers.prefix(4).allSatisfy { $0.statusCode == 200 && $0.messages.count == 10 })
        #expect(answers.dropFirst(4).allSatisfy { $0.statusCode == 429 && $0.requestID == "N/A" })

        // Once the bucket refills on the node's clock, the same peer is served again.
        node.clock.advance(by: 10)
        let again = try await peer.query(StoreQueryTests.request { _ in })
        #expect(again.statusCode == 200)
        #expect(again.messages.count == 10)
        await peer.stop()
        await node.stop()
    }

    @Test func aWrongPeerIdFailsTheHandshakeAndTheNodeKeepsServing() async throws {
        let node = try await TestNode()
        _ = try await node.store.ingest(try testMessages(count: 3, seed: 43))
        let address = try #require(node.node.address)
        let impostor = address.with(peer: try PrivateKey.generate(.ed25519).peerID)
        await #expect(throws: PyLibp2pPeer.Failure.self) {
            _ = try await PyLibp2pPeer.dialing(impostor.description, keyType: "secp256k1", muxer: "yamux")
        }
        let peer = try await PyLibp2pPeer.dialing(address.description, keyType: "secp256k1", muxer: "yamux")
        let response = try await peer.query(StoreQueryTests.request { _ in })
        #expect(response.messages.count == 3)
        await peer.stop()
        await node.stop()
    }

    @Test func aPeerOfAnotherClusterIsDisconnected() async throws {
        let node = try await TestNode()
        let address = try #require(node.node.address)
        let peer = try await PyLibp2pPeer.dialing(address.description, keyType: "ed25519", muxer: "yamux", cluster: 1)
        #expect(await eventually { node.node.counts.peersOfOtherClusters == 1 })
        #expect(await eventually { node.node.host.openConnections == 0 })
        await peer.stop()

        let member = try await PyLibp2pPeer.dialing(address.description, keyType: "ed25519", muxer: "yamux", cluster: 0)
        let response = try await member.query(StoreQueryTests.request { _ in })
        #expect(response.statusCode == 200)
        #expect(node.node.counts.peersOfOtherClusters == 1)
        await member.stop()
        await node.stop()
    }

    @Test(arguments: transports)
    func theSwiftDialerReachesAPyLibp2pListener(keyType: String, muxer: String) async throws {
        let peer = try await PyLibp2pPeer.listening(keyType: keyType, muxer: muxer)
        let address = try Multiaddr(try #require(peer.address))
        var configuration = P2PConfiguration()
        configuration.muxers = muxer == "yamux" ? ["/yamux/1.0.0"] : ["/mplex/6.7.0"]
        let host = P2PHost(identity: try PrivateKey.generate(.secp256k1), configuration: configuration)
        let connection = try await host.dial(address)
        #expect(connection.remotePeer == address.peerID)
        #expect(connection.info.remoteKey.type == (keyType == "ed25519" ? .ed25519 : .secp256k1))
        #expect(connection.info.muxer == configuration.muxers[0])

        let stream = try await connection.newStream(["/storesync/echo/1.0.0"])
        let payload = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await stream.write(ByteBuffer(bytes: payload))
        stream.closeWrite()
        var echoed: [UInt8] = []
        while let chunk = try await stream.read() { echoed += Array(chunk.readableBytesView) }
        #expect(echoed == payload)
        stream.close()

        // The identify the dialler asked carries the listener's key.
        #expect(await eventually { connection.identify != nil })
        #expect(connection.identify?.publicKey.map { try? PublicKey(protobuf: $0) } == connection.info.remoteKey)

        let impostor = address.with(peer: try PrivateKey.generate(.secp256k1).peerID)
        await #expect(throws: P2PError.self) { _ = try await host.dial(impostor) }
        connection.close()
        await peer.stop()
    }
}
