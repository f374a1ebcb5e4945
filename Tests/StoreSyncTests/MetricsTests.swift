import Foundation
import NIOCore
import NIOPosix
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncProto
import Testing

/// Samples of a Prometheus text exposition, keyed by name and sorted labels:
/// `name{a="1",b="2"}`.
struct PrometheusSamples {
    private(set) var values: [String: Double] = [:]

    init(parsing text: String) throws {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.isEmpty {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                throw ParseFailure(line: String(line))
            }
            let series = line[..<space]
            guard let brace = series.firstIndex(of: "{") else {
                values[String(series)] = value
                continue
            }
            let name = series[..<brace]
            let labels = series[series.index(after: brace)..<series.index(before: series.endIndex)]
                .split(separator: ",").map(String.init).sorted()
            values["\(name){\(labels.joined(separator: ","))}"] = value
        }
    }

    struct ParseFailure: Error {
        let line: String
    }

    /// The value of a series; labels in any order.
    subscript(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let rendered = labels.map { "\($0.key)=\"\($0.value)\"" }.sorted()
        return values[rendered.isEmpty ? name : "\(name){\(rendered.joined(separator: ","))}"]
    }
}

/// Fetches `path` from an HTTP server on loopback; returns the status line and body. The request
/// is written and the answer collected on the event loop, so a busy test pool cannot delay the
/// request past the server's read timeout.
func httpGet(port: Int, path: String) async throws -> (status: String, body: String) {
    let received = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: ByteBuffer.self)
    _ = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(HTTPGetHandler(path: path, done: received))
            }
        }
        .connect(host: "127.0.0.1", port: port).get()
    let response = String(buffer: try await received.futureResult.get())
    let parts = response.components(separatedBy: "\r\n\r\n")
    return (parts[0].components(separatedBy: "\r\n")[0], parts.dropFirst().joined(separator: "\r\n\r\n"))
}

/// Sends one GET when connected and collects the bytes until the server closes.
final class HTTPGetHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let path: String
    private let done: EventLoopPromise<ByteBuffer>
    private var received = ByteBuffer()
    private var failed = false

    init(path: String, done: EventLoopPromise<ByteBuffer>) {
        self.path = path
        self.done = done
    }

    func channelActive(context: ChannelHandlerContext) {
        let request = ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n")
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var part = unwrapInboundIn(data)
        received.writeBuffer(&part)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !failed { done.succeed(received) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !failed { done.fail(error) }
        failed = true
        context.close(promise: nil)
    }
}

@Suite("Metrics")
struct MetricsTests {
    static let topic = "/waku/2/rs/0/0"

    @Test func scrapedOverHTTPTheySayWhatTheNodesDid() async throws {
        let messages = try testMessages(count: 400, seed: 5)
        let initiator = try await TestNode(retention: RetentionPolicy(maximumCount: 390))
        let responder = try await TestNode(
            rateLimits: RateLimitPolicy(
                limits: [.storeQuery: RateLimit(count: 3, periodSeconds: 3_600)], defaultLimit: nil))
        _ = try await initiator.store.ingest(Array(messages[0..<300]))
        _ = try await responder.store.ingest(Array(messages[100..<400]))
        let report = try await initiator.node.sync(with: responder.client, pubsubTopic: Self.topic)
        // Fetched 100 newer ones; capacity 390 then dropped the 10 oldest.
        #expect(report.need == 100 && report.have == 100)
        #expect(try initiator.store.messageCount() == 390)

        var query = Waku_Store_V3_StoreQueryRequest()
        query.requestID = "q"
        query.pubsubTopic = Self.topic
        query.contentTopics = ["/test/1/c0/proto"]
        query.includeData = false
        query.paginationLimit = 10
        var statuses = [UInt32]()
        for _ in 0..<5 { statuses.append(try await responder.client.query(query).statusCode) }
        #expect(statuses == [200, 200, 200, 429, 429])

        let initiatorEndpoint = initiator.endpoint
        let responderEndpoint = responder.endpoint
        let server = try await MetricsServer.bind(host: "127.0.0.1", port: 0) { await initiatorEndpoint.render() }
        let responderServer = try await MetricsServer.bind(host: "127.0.0.1", port: 0) {
            await responderEndpoint.render()
        }
        let scraped = try await httpGet(port: server.port, path: "/metrics")
        let responderScrape = try await httpGet(port: responderServer.port, path: "/metrics")
        let missing = try await httpGet(port: server.port, path: "/other")
        await server.close()
        await responderServer.close()
        await initiator.stop()
        await responder.stop()

        #expect(scraped.status == "HTTP/1.1 200 OK")
        #expect(missing.status == "HTTP/1.1 404 Not Found")
        let mine = try PrometheusSamples(parsing: scraped.body)
        #expect(mine["storesync_messages"] == 390)
        #expect(mine["storesync_topic_messages", ["pubsub_topic": Self.topic]] == 390)
        let statistics = try initiator.store.statistics()
        #expect(mine["storesync_oldest_timestamp_seconds"] == Double(try #require(statistics.oldest)) / 1e9)
        #expect(mine["storesync_newest_timestamp_seconds"] == Double(try #require(statistics.newest)) / 1e9)
        #expect(mine["storesync_disk_file_bytes"] == Double(statistics.disk.fileBytes))
        #expect(mine["storesync_sync_sessions_total", ["role": "initiator", "outcome": "ok"]] == 1)
        #expect(mine["storesync_sync_rounds_count", ["role": "initiator"]] == 1)
        #expect(mine["storesync_sync_rounds_sum", ["role": "initiator"]] == Double(report.rounds))
        #expect(mine["storesync_sync_differences_sum"] == 200)
        #expect(
            mine["storesync_bytes_total", ["protocol": "reconcile", "direction": "out"]]
                == Double(report.bytesUp - report.transferBytesUp))
        #expect(
            mine["storesync_bytes_total", ["protocol": "transfer", "direction": "in"]]
                == Double(report.transferBytesDown))
        // The 10 oldest went to the count cap before they could be offered.
        #expect(mine["storesync_messages_transferred_total", ["direction": "in"]] == 100)
        #expect(mine["storesync_messages_transferred_total", ["direction": "out"]] == 90)
        #expect(mine["storesync_retention_deleted_total", ["reason": "count"]] == 10)

        let theirs = try PrometheusSamples(parsing: responderScrape.body)
        #expect(theirs["storesync_messages"] == 390)
        #expect(theirs["storesync_sync_sessions_total", ["role": "responder", "outcome": "ok"]] == 1)
        #expect(theirs["storesync_messages_transferred_total", ["direction": "out"]] == 100)
        #expect(theirs["storesync_messages_transferred_total", ["direction": "in"]] == 90)
        #expect(theirs["storesync_requests_served_total", ["protocol": "store"]] == 5)
        #expect(theirs["storesync_requests_rejected_total", ["protocol": "store", "code": "429"]] == 2)
        #expect(theirs["storesync_query_duration_seconds_count"] == 3)
        #expect(
            theirs["storesync_bytes_total", ["protocol": "reconcile", "direction": "in"]]
                == Double(report.bytesUp - report.transferBytesUp))
    }

    @Test(arguments: ArchiveKind.allCases)
    func forgedTransfersAreCounted(archive: ArchiveKind) async throws {
        try await archive.withNode { local in
            let genuine = try testMessages(count: 1, seed: 77)[0]
            let forger = try await ForgingPeer.start(claiming: genuine)
            let report = try await local.node.sync(
                with: NodeClient(host: "127.0.0.1", port: forger.port), pubsubTopic: Self.topic)
            await forger.stop()
            #expect(report.fetched.rejected == 1)
            let samples = try await PrometheusSamples(parsing: local.endpoint.render())
            #expect(samples["storesync_transfers_rejected_total"] == 1)
            #expect(samples["storesync_messages_transferred_total", ["direction": "in"]] ?? 0 == 0)
            #expect(samples["storesync_messages"] == 0)
            #expect(try await local.archive.messages(for: [genuine.hash]) == [nil])
        }
    }
}
