import Foundation
import NIOCore
import NIOPosix
import StoreSyncCore
import StoreSyncNode
import StoreSyncProto
import Synchronization

/// A client that sends whatever bytes a test gives it and returns the first frame answered.
struct RawPeer {
    let port: Int

    func exchange(frames: [Frame]) async throws -> Frame? {
        var bytes = ByteBuffer()
        for frame in frames { FrameEncoder().encode(data: frame, out: &bytes) }
        return try await exchange(bytes: bytes)
    }

    /// A connection that decodes the node's frames and sends raw bytes.
    func connect() async throws -> NIOAsyncChannel<Frame, ByteBuffer> {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(FrameDecoder(maximumFrameSize: 1 << 20)))
                    return try NIOAsyncChannel<Frame, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
    }

    func exchange(bytes: ByteBuffer) async throws -> Frame? {
        let channel = try await connect()
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(bytes)
            var iterator = inbound.makeAsyncIterator()
            return try await iterator.next()
        }
    }
}

/// A framed server on loopback that hands each connection to `handle`, several at once, until
/// stopped: the base of the scripted peers below.
final class FramedTestServer: Sendable {
    let port: Int
    private let channel: NIOAsyncChannel<NIOAsyncChannel<Frame, Frame>, Never>
    private let serving: Task<Void, any Error>

    init(handle: @escaping @Sendable (NIOAsyncChannel<Frame, Frame>) async throws -> Void) async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addFramingHandlers(maximumFrameSize: 4 << 20)
                    return try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
                }
            }
        self.channel = channel
        self.port = channel.channel.localAddress?.port ?? 0
        self.serving = Task {
            try await channel.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in inbound {
                        group.addTask { try? await handle(connection) }
                    }
                }
            }
        }
    }

    func stop() async {
        try? await channel.channel.close()
        _ = await serving.result
    }
}

/// A peer that reconciles honestly as holding `claiming`, then, asked for it, sends a message
/// with the same claimed hash but other content.
final class ForgingPeer: Sendable {
    private let server: FramedTestServer
    var port: Int { server.port }

    private init(server: FramedTestServer) {
        self.server = server
    }

    static func start(claiming genuine: WakuMessage) async throws -> ForgingPeer {
        ForgingPeer(server: try await FramedTestServer { try await serve($0, genuine: genuine) })
    }

    private static func serve(_ connection: NIOAsyncChannel<Frame, Frame>, genuine: WakuMessage) async throws {
        try await connection.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            guard case .hello(let id, _)? = try await frames.next() else { return }
            let key = SyncKey(timestamp: UInt64(genuine.timestamp), hash: genuine.hash)
            let responder = try Reconciler()
            var first = true
            while case .data(var body)? = try await frames.next() {
                if id == StreamProtocol.reconcile.rawValue {
                    let message: [UInt8]
                    if first {
                        message = try ReconcileOpen(decoding: &body).message
                        first = false
                    } else {
                        message = Array(buffer: body)
                    }
                    let reply = try responder.respond(to: message, storage: SortedKeyStorage([key]))
                    try await outbound.write(.data(ByteBuffer(bytes: reply)))
                } else {
                    var forged = genuine
                    forged.payload = Array("not what was hashed".utf8)
                    var response = Waku_Store_V3_StoreQueryResponse()
                    response.messages = [forged.keyValue(hash: genuine.hash)]
                    try await outbound.write(.data(ByteBuffer(bytes: try response.serializedBytes() as [UInt8])))
                }
            }
        }
    }

    func stop() async {
        await server.stop()
    }
}

extension RawPeer {
    /// A slowloris client: sends one byte of a frame header at a time, `interval` apart, at most
    /// `maximumBytes`, while waiting for the node to answer or close. Returns what the node sent
    /// (nil: closed without a frame) and how many bytes went out before it did.
    func trickle(interval: Duration, maximumBytes: Int) async throws -> (frame: Frame?, bytesSent: Int) {
        let channel = try await connect()
        return try await channel.executeThenClose { inbound, outbound in
            let sent = Counter()
            let writer = Task {
                // A 100-byte frame announced, its bytes then sent one by one.
                for byte in [UInt8](arrayLiteral: 0, 0, 0, 100) + [UInt8](repeating: 2, count: maximumBytes - 4) {
                    guard (try? await outbound.write(ByteBuffer(bytes: [byte]))) != nil else { return }
                    sent.increment()
                    try? await Task.sleep(for: interval)
                }
            }
            var iterator = inbound.makeAsyncIterator()
            let frame = try? await iterator.next()
            writer.cancel()
            return (frame, sent.value)
        }
    }

    /// Opens a connection and sends nothing until `body` is done with it.
    func holdOpen<T>(_ body: () async throws -> T) async throws -> T {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { _, _ in try await body() }
    }
}

final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
