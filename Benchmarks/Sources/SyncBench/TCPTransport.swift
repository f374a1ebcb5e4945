import NIOCore
import NIOPosix
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode

/// A side's keys: in memory, or a key index of an LMDB store read through one snapshot per
/// message, as a node reads it.
enum Side: Sendable {
    case memory(SortedKeyStorage)
    case lmdb(MessageStore, index: String)

    func respond(_ reconciler: Reconciler, to message: [UInt8]) throws -> [UInt8] {
        switch self {
        case .memory(let storage): try reconciler.respond(to: message, storage: storage)
        case .lmdb(let store, let index):
            try store.withKeyIndexSnapshot(index: index) { try reconciler.respond(to: message, storage: $0) }
        }
    }

    func initiate(_ reconciler: Reconciler) throws -> [UInt8] {
        switch self {
        case .memory(let storage): try reconciler.initiate(storage)
        case .lmdb(let store, let index): try store.withKeyIndexSnapshot(index: index) { try reconciler.initiate($0) }
        }
    }

    func reconcile(_ reconciler: Reconciler, _ message: [UInt8]) throws -> Reconciler.Step {
        switch self {
        case .memory(let storage): try reconciler.reconcile(message, storage: storage)
        case .lmdb(let store, let index):
            try store.withKeyIndexSnapshot(index: index) { try reconciler.reconcile(message, storage: $0) }
        }
    }
}

/// The session over loopback TCP: the responder behind a server speaking the node's framing (a
/// hello, then one data frame per Negentropy message each way), the initiator through
/// `NodeClient`. Bytes counted are the Negentropy messages, as in process (framing adds 5 bytes
/// a frame).
enum TCPTransport {
    static func run(local: Side, remote: Side, policy: SplitPolicy, frameLimit: Int) async throws
        -> InProcessSession.Outcome
    {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addFramingHandlers(maximumFrameSize: 64 << 20)
                    return try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
                }
            }
        let port = server.channel.localAddress?.port ?? 0
        let serving = Task {
            try await server.executeThenClose { inbound in
                for try await connection in inbound {
                    try await connection.executeThenClose { frames, outbound in
                        let responder = try Reconciler(frameSizeLimit: frameLimit, policy: policy)
                        for try await frame in frames {
                            guard case .data(let message) = frame else { continue }
                            let reply = try remote.respond(responder, to: Array(buffer: message))
                            try await outbound.write(.data(ByteBuffer(bytes: reply)))
                        }
                    }
                    return
                }
            }
        }
        let client = NodeClient(host: "127.0.0.1", port: port, maximumFrameSize: 64 << 20)
        let outcome = try await client.withStream(.reconcile) { stream in
            var outcome = InProcessSession.Outcome()
            let initiator = try Reconciler(frameSizeLimit: frameLimit, policy: policy)
            var message = try local.initiate(initiator)
            while true {
                outcome.bytesUp += message.count
                let reply = Array(buffer: try await stream.request(ByteBuffer(bytes: message)))
                outcome.bytesDown += reply.count
                outcome.rounds += 1
                let step = try local.reconcile(initiator, reply)
                outcome.have += step.have
                outcome.need += step.need
                guard let next = step.nextMessage else { return outcome }
                message = next
            }
        }
        serving.cancel()
        try? await server.channel.close()
        return outcome
    }
}
