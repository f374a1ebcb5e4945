import ArgumentParser
import Dispatch
import Foundation
import Logging
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode

/// `storesync node`: a long-running node, stopped cleanly by SIGINT or SIGTERM.
struct Node: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a store node until SIGINT or SIGTERM.")

    @Option(help: "Directory of the node's LMDB store (created if missing).")
    var dataDir: String

    @Option(help: "Address to listen on, HOST:PORT.")
    var listen = Endpoint(argument: "127.0.0.1:9000")!

    @Option(name: .customLong("peer"), help: "A peer to sync with at start, HOST:PORT (repeatable).")
    var peers: [Endpoint] = []

    @Option(name: .customLong("pubsub-topic"), help: "A pubsub topic this node syncs (repeatable).")
    var pubsubTopics: [String] = ["/waku/2/rs/0/0"]

    @Flag(help: "Let clients push messages to store.")
    var allowPush = false

    @Option(help: "Split policy: reference or adaptive.")
    var policy = SplitPolicy.adaptive

    func run() async throws {
        var logger = Logger(label: "storesync.node")
        logger.logLevel = .info
        let store: MessageStore
        do {
            store = try MessageStore(StoreConfiguration(directory: dataDir))
        } catch {
            printError(explain(error, dataDirectory: dataDir))
            throw ExitCode(1)
        }
        let node: StoreNode
        do {
            node = try await StoreNode.bind(
                store: store,
                configuration: NodeConfiguration(
                    host: listen.host, port: listen.port, policy: policy, allowPush: allowPush),
                logger: logger)
        } catch {
            printError("cannot listen on \(listen): \(error); is the port free and the address local?")
            throw ExitCode(1)
        }
        say("listening on \(listen.host):\(node.port), data in \(dataDir)")
        let serving = Task { try await node.serve() }

        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let (stop, continuation) = AsyncStream.makeStream(of: Int32.self)
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            sources.append(source)
        }
        defer { for source in sources { source.cancel() } }

        for peer in peers {
            for topic in pubsubTopics {
                do {
                    let report = try await peer.client.sync(store: store, pubsubTopic: topic, policy: policy)
                    say("synced \(topic) with \(peer): \(report.fetched.stored) fetched, \(report.sent.stored) sent")
                } catch {
                    printError("sync with \(peer) failed: \(explain(error, peer: peer))")
                }
            }
        }

        for await number in stop {
            say("received signal \(number), stopping")
            break
        }
        await node.close()
        _ = await serving.result
        say("stopped; store closed")
    }
}
