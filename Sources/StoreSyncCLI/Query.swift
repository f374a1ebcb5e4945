import ArgumentParser
import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncP2P
import StoreSyncProto
import Synchronization

/// `storesync query`: a Store v3 query against a running node.
struct Query: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Query a node's store (Waku Store v3).")

    @Option(help: "The node: its libp2p multiaddr /ip4/…/tcp/…/p2p/<PeerId> (Waku Store v3), or HOST:PORT.")
    var node: NodeAddress

    @Option(help: "Message hashes, hex, comma-separated.")
    var hashes: String?

    @Option(help: "Pubsub topic (with --content-topic).")
    var pubsubTopic: String?

    @Option(name: .customLong("content-topic"), help: "Content topic (repeatable, with --pubsub-topic).")
    var contentTopics: [String] = []

    @Option(help: "Start time, ns, inclusive.")
    var start: Int64?

    @Option(help: "End time, ns, exclusive.")
    var end: Int64?

    @Flag(help: "Include the messages, not just their hashes.")
    var includeData = false

    @Flag(help: "Page from the newest.")
    var backward = false

    @Option(help: "Page size (default 20, at most 100).")
    var limit: UInt64?

    @Flag(help: "Follow the cursor to the last page.")
    var allPages = false

    @Flag(help: "One JSON object per message.")
    var json = false

    @OptionGroup var retry: RetryOptions

    func run() async throws {
        var request = Waku_Store_V3_StoreQueryRequest()
        request.requestID = UUID().uuidString
        request.includeData = includeData
        request.paginationForward = !backward
        if let limit { request.paginationLimit = limit }
        if let hashes {
            for text in hashes.split(separator: ",") {
                guard let hash = MessageHash(hex: text) else {
                    printError("\(text) is not a message hash: give 64 hex digits")
                    throw ExitCode(2)
                }
                request.messageHashes.append(Data(hash.bytes))
            }
        }
        if let pubsubTopic { request.pubsubTopic = pubsubTopic }
        request.contentTopics = contentTopics
        if let start { request.timeStart = start }
        if let end { request.timeEnd = end }
        var total = 0
        let client = try node.client()
        do {
            while true {
                let response = try await client.query(request, retrying: retry.policy)
                guard response.statusCode == 200 else {
                    printError("query refused: \(response.statusCode) \(response.statusDesc)")
                    throw ExitCode(1)
                }
                for entry in response.messages { print(line(entry)) }
                total += response.messages.count
                guard allPages, response.hasPaginationCursor else { break }
                request.paginationCursor = response.paginationCursor
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError(explain(error, peer: node))
            throw ExitCode(1)
        }
        if !json { print("\(total) messages") }
    }

    private func line(_ entry: Waku_Store_V3_WakuMessageKeyValue) -> String {
        let hash = Hex.encode(entry.messageHash)
        guard entry.hasMessage else { return json ? "{\"message_hash\":\"\(hash)\"}" : hash }
        let message = entry.message
        if json {
            return "{\"message_hash\":\"\(hash)\",\"pubsub_topic\":\"\(entry.pubsubTopic)\","
                + "\"content_topic\":\"\(message.contentTopic)\",\"timestamp\":\(message.timestamp),"
                + "\"payload\":\"\(message.payload.base64EncodedString())\"}"
        }
        return "\(hash) \(message.timestamp) \(entry.pubsubTopic) \(message.contentTopic) \(message.payload.count) B"
    }
}
