import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP server for Prometheus scrapes: `GET /metrics` answers the rendered metrics,
/// anything else 404 (405 for other methods). Each connection carries one request and is
/// closed after the answer or after ten seconds without a complete request; request bodies are
/// discarded unread, and headers are bounded by the HTTP parser. Rendering runs off the event
/// loop (it reads the store).
public final class MetricsServer: Sendable {
    /// The port the server listens on.
    public let port: Int
    private let channel: any Channel

    private init(channel: any Channel, port: Int) {
        self.channel = channel
        self.port = port
    }

    /// Starts listening on `host:port` (port 0 picks a free one); `render` is called on each scrape.
    public static func bind(
        host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        render: @escaping @Sendable () async -> String
    ) async throws -> MetricsServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(10)))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsRequestHandler(render: render))
                }
            }
            .bind(host: host, port: port).get()
        return MetricsServer(channel: channel, port: channel.localAddress?.port ?? port)
    }

    /// Stops listening.
    public func close() async {
        try? await channel.close()
    }
}

/// Answers one HTTP request on a connection, then closes it.
final class MetricsRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let render: @Sendable () async -> String
    private var head: HTTPRequestHead?

    init(render: @escaping @Sendable () async -> String) {
        self.render = render
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(context: context, to: head)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func respond(context: ChannelHandlerContext, to request: HTTPRequestHead) {
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        switch (request.method, path) {
        case (.GET, "/metrics"), (.HEAD, "/metrics"):
            let render = self.render
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.makeFutureWithTask { await render() }.whenSuccess { body in
                let (handler, context) = bound.value
                handler.send(
                    context: context, to: request, status: .ok, body: body,
                    contentType: "text/plain; version=0.0.4; charset=utf-8")
            }
        case (.GET, _), (.HEAD, _):
            send(
                context: context, to: request, status: .notFound, body: "not found: metrics are at /metrics\n",
                contentType: "text/plain")
        default:
            send(
                context: context, to: request, status: .methodNotAllowed, body: "only GET /metrics\n",
                contentType: "text/plain")
        }
    }

    private func send(
        context: ChannelHandlerContext, to request: HTTPRequestHead, status: HTTPResponseStatus, body: String,
        contentType: String
    ) {
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(buffer.readableBytes))
        headers.add(name: "Connection", value: "close")
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))),
            promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
