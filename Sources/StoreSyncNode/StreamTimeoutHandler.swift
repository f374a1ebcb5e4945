import NIOCore

/// Closes a stream that is too slow: no hello within the handshake timeout, no complete frame
/// within the idle timeout (a client trickling bytes never completes one: slowloris), or a stream
/// open longer than its maximum duration. An error frame with status 408 says which, then the
/// connection closes.
final class StreamTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Frame
    typealias InboundOut = Frame
    typealias OutboundOut = Frame

    private let handshake: TimeAmount
    private let idle: TimeAmount
    private let maximumDuration: TimeAmount
    private var frameTimer: Scheduled<Void>?
    private var durationTimer: Scheduled<Void>?

    init(handshake: TimeAmount, idle: TimeAmount, maximumDuration: TimeAmount) {
        self.handshake = handshake
        self.idle = idle
        self.maximumDuration = maximumDuration
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        arm(context, after: idle, reason: "no complete frame for \(idle.nanoseconds / 1_000_000) ms")
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        frameTimer?.cancel()
        durationTimer?.cancel()
        context.fireChannelInactive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard durationTimer == nil else { return }
        arm(context, after: handshake, reason: "no hello within \(handshake.nanoseconds / 1_000_000) ms")
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let duration = maximumDuration.nanoseconds / 1_000_000
        durationTimer = context.eventLoop.scheduleTask(in: maximumDuration) {
            Self.expire(bound.value, reason: "stream open longer than \(duration) ms")
        }
    }

    private func arm(_ context: ChannelHandlerContext, after delay: TimeAmount, reason: String) {
        frameTimer?.cancel()
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        frameTimer = context.eventLoop.scheduleTask(in: delay) { Self.expire(bound.value, reason: reason) }
    }

    private static func expire(_ context: ChannelHandlerContext, reason: String) {
        guard context.channel.isActive else { return }
        context.writeAndFlush(NIOAny(Frame.error(code: 408, message: "timed out: \(reason)")), promise: nil)
        context.close(promise: nil)
    }
}
