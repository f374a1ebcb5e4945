import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncProto
import Testing

@Suite("Store v3 queries over libp2p")
struct StoreQueryTests {
    static let topic = "/waku/2/rs/0/0"

    static func request(_ build: (inout Waku_Store_V3_StoreQueryRequest) -> Void) -> Waku_Store_V3_StoreQueryRequest {
        var request = Waku_Store_V3_StoreQueryRequest()
        request.requestID = "r1"
        request.includeData = true
        request.paginationForward = true
        build(&request)
        return request
    }

    /// Pages through a query to the end, checking each page is in forward order.
    static func allPages(_ client: some StoreQuerying, _ base: Waku_Store_V3_StoreQueryRequest) async throws
        -> [[MessageHash]]
    {
        var pages = [[MessageHash]]()
        var request = base
        while true {
            let response = try await client.query(request)
            #expect(response.statusCode == 200, "\(response.statusDesc)")
            let page = response.messages.compactMap { MessageHash(bytes: Array($0.messageHash)) }
            pages.append(page)
            guard response.hasPaginationCursor else { return pages }
            request.paginationCursor = response.paginationCursor
            #expect(pages.count < 100, "paging does not end")
            if pages.count >= 100 { return pages }
        }
    }

    @Test(arguments: ArchiveKind.allCases)
    func pagingForwardAndBackwardCoversTheFilterExactly(archive: ArchiveKind) async throws {
        try await archive.withNode { node in try await Self.pagingForwardAndBackward(node) }
    }

    static func pagingForwardAndBackward(_ node: TestNode) async throws {
        let messages = try testMessages(count: 250, seed: 5)
        _ = try await node.archive.ingest(messages)
        let start = messages[20].timestamp
        let end = messages[230].timestamp
        let matching = messages.filter {
            $0.timestamp >= start && $0.timestamp < end
                && ["/test/1/c0/proto", "/test/1/c2/proto"].contains($0.contentTopic)
        }.sorted {
            SyncKey(timestamp: UInt64($0.timestamp), hash: $0.hash)
                < SyncKey(timestamp: UInt64($1.timestamp), hash: $1.hash)
        }
        let base = Self.request {
            $0.pubsubTopic = Self.topic
            $0.contentTopics = ["/test/1/c0/proto", "/test/1/c2/proto"]
            $0.timeStart = start
            $0.timeEnd = end
            $0.paginationLimit = 30
        }
        let forward = try await Self.allPages(try node.wakuClient(), base)
        #expect(forward.joined().map { $0 } == matching.map(\.hash))
        #expect(forward.dropLast().allSatisfy { $0.count == 30 })

        var backwardBase = base
        backwardBase.paginationForward = false
        let backward = try await Self.allPages(try node.wakuClient(), backwardBase)
        // Pages come newest first, each in forward order inside.
        #expect(backward.reversed().joined().map { $0 } == matching.map(\.hash))
        #expect(backward.first == Array(matching.suffix(30).map(\.hash)))

        // No filter at all: every message, default page size 20.
        let everything = try await Self.allPages(try node.wakuClient(), Self.request { _ in })
        #expect(everything.first?.count == 20)
        #expect(Set(everything.joined()) == Set(messages.map(\.hash)))
    }

    @Test(arguments: ArchiveKind.allCases)
    func hashLookupWithAndWithoutData(archive: ArchiveKind) async throws {
        try await archive.withNode { node in try await Self.hashLookup(node) }
    }

    static func hashLookup(_ node: TestNode) async throws {
        let messages = try testMessages(count: 10, seed: 6)
        _ = try await node.archive.ingest(Array(messages.prefix(5)))
        let asked = [messages[1].hash, messages[7].hash, messages[3].hash]
        let withData = try await node.wakuClient().query(
            Self.request { $0.messageHashes = asked.map { Data($0.bytes) } })
        #expect(withData.statusCode == 200)
        #expect(withData.requestID == "r1")
        #expect(withData.messages.map { Array($0.messageHash) } == [messages[1].hash.bytes, messages[3].hash.bytes])
        #expect(withData.messages.first?.message.payload == Data(messages[1].payload))
        #expect(withData.messages.first?.pubsubTopic == Self.topic)
        let presence = try await node.wakuClient().query(
            Self.request {
                $0.includeData = false
                $0.messageHashes = asked.map { Data($0.bytes) }
            })
        #expect(presence.messages.count == 2)
        #expect(presence.messages.allSatisfy { !$0.hasMessage && !$0.hasPubsubTopic })
    }

    @Test func everyMalformedQueryIsA400() async throws {
        let node = try await TestNode()
        _ = try await node.store.ingest(try testMessages(count: 5, seed: 7))
        let hash = Data(repeating: 1, count: 32)
        let cases: [(String, Waku_Store_V3_StoreQueryRequest)] = [
            (
                "hashes with filters",
                Self.request {
                    $0.messageHashes = [hash]
                    $0.pubsubTopic = Self.topic
                    $0.contentTopics = ["c"]
                }
            ),
            (
                "hashes with a time",
                Self.request {
                    $0.messageHashes = [hash]
                    $0.timeStart = 5
                }
            ),
            ("pubsub topic without content topics", Self.request { $0.pubsubTopic = Self.topic }),
            ("content topics without pubsub topic", Self.request { $0.contentTopics = ["c"] }),
            (
                "eleven content topics",
                Self.request {
                    $0.pubsubTopic = Self.topic
                    $0.contentTopics = (0..<11).map { "c\($0)" }
                }
            ),
            ("101 hashes", Self.request { $0.messageHashes = Array(repeating: hash, count: 101) }),
            ("short hash", Self.request { $0.messageHashes = [Data([1, 2, 3])] }),
            ("unknown cursor", Self.request { $0.paginationCursor = hash }),
            (
                "start after end",
                Self.request {
                    $0.timeStart = 10
                    $0.timeEnd = 5
                }
            ),
        ]
        for (name, request) in cases {
            let response = try await node.wakuClient().query(request)
            #expect(response.statusCode == 400, "\(name): \(response.statusCode) \(response.statusDesc)")
            #expect(!response.statusDesc.isEmpty && response.messages.isEmpty, "\(name)")
        }
        let large = try await node.wakuClient().query(Self.request { $0.paginationLimit = 1_000 })
        #expect(large.statusCode == 200 && large.messages.count == 5)
        await node.stop()
    }

    @Test func pushStoresValidMessagesAndRefusesTheRest() async throws {
        let node = try await TestNode(allowPush: true)
        let messages = try testMessages(count: 30, seed: 8)
        var ephemeral = messages[0]
        ephemeral.ephemeral = true
        let counts = try await node.client.push(Array(messages[1...]) + [ephemeral, messages[1]])
        #expect(counts == StoreCounts(stored: 29, duplicates: 1, rejected: 1))
        #expect(try node.store.messageCount() == 29)
        try node.store._checkInvariants()
        await node.stop()
    }
}
