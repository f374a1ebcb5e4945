import NIOCore
import StoreSyncCore

/// Closes a stream that is too slow: no hello within the handshake timeout, no complete frame
/// within the idle timeout (a client trickling bytes never completes one: slowloris), or a stream
/// open longer than its maximum duration. An error frame with status 408 says which, then the
/// connection closes.
///
/// Deadlines are read on the node's clock (`DeadlineWatcher`); a frame read only moves the idle
/// deadline.
final class StreamTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Frame
    typealias InboundOut = Frame
    typealias OutboundOut = Frame

    private let handshake: Double
    private let idle: Double
    private let maximumDuration: Double
    private let clock: any SyncScheduler
    private let watcher: DeadlineWatcher
    private var frameDeadline = Double.infinity
    private var frameReason = ""
    private var endDeadline = Double.infinity

    /// Timeouts in seconds.
    init(handshake: Double, idle: Double, maximumDuration: Double, clock: any SyncScheduler) {
        self.handshake = handshake
        self.idle = idle
        self.maximumDuration = maximumDuration
        self.clock = clock
        self.watcher = DeadlineWatcher(clock: clock)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        frameDeadline = clock.uptime() + idle
        frameReason = "no complete frame for \(Self.milliseconds(idle)) ms"
        arm(context)
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        watcher.cancel()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        watcher.cancel()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard endDeadline == .infinity else { return }
        let now = clock.uptime()
        frameDeadline = now + handshake
        frameReason = "no hello within \(Self.milliseconds(handshake)) ms"
        endDeadline = now + maximumDuration
        arm(context)
    }

    private func arm(_ context: ChannelHandlerContext) {
        watcher.arm(at: min(frameDeadline, endDeadline), loop: context.eventLoop) { [self] in check(context) }
    }

    /// Expires the stream if a deadline has passed (returns nil, as for a closed stream), or
    /// returns the nearest deadline.
    private func check(_ context: ChannelHandlerContext) -> Double? {
        guard context.channel.isActive else { return nil }
        let now = clock.uptime()
        if now >= endDeadline {
            Self.expire(context, reason: "stream open longer than \(Self.milliseconds(maximumDuration)) ms")
            return nil
        }
        if now >= frameDeadline {
            Self.expire(context, reason: frameReason)
            return nil
        }
        return min(frameDeadline, endDeadline)
    }

    private static func milliseconds(_ seconds: Double) -> Int { Int((seconds * 1_000).rounded()) }

    private static func expire(_ context: ChannelHandlerContext, reason: String) {
        context.writeAndFlush(NIOAny(Frame.error(code: 408, message: "timed out: \(reason)")), promise: nil)
        context.close(promise: nil)
    }
}
