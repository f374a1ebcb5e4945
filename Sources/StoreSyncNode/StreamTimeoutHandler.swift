import NIOCore

/// Closes a stream that is too slow: no hello within the handshake timeout, no complete frame
/// within the idle timeout (a client trickling bytes never completes one: slowloris), or a stream
/// open longer than its maximum duration. An error frame with status 408 says which, then the
/// connection closes.
///
/// Deadlines are read on the node's clock. One watcher per stream sleeps until the nearest one
/// and checks it on the event loop; a frame read only moves the idle deadline, and the watcher is
/// restarted only when that brings the nearest deadline closer.
final class StreamTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Frame
    typealias InboundOut = Frame
    typealias OutboundOut = Frame

    private let handshake: Double
    private let idle: Double
    private let maximumDuration: Double
    private let clock: any SyncScheduler
    private var frameDeadline = Double.infinity
    private var frameReason = ""
    private var endDeadline = Double.infinity
    private var watcher: Task<Void, Never>?
    /// When the watcher wakes next.
    private var wakeAt = Double.infinity
    /// Counts watchers started, so that a replaced one that was already awake stops.
    private var generation = 0

    /// Timeouts in seconds.
    init(handshake: Double, idle: Double, maximumDuration: Double, clock: any SyncScheduler) {
        self.handshake = handshake
        self.idle = idle
        self.maximumDuration = maximumDuration
        self.clock = clock
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
        if min(frameDeadline, endDeadline) < wakeAt { arm(context) }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopWatching()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopWatching()
    }

    private func stopWatching() {
        watcher?.cancel()
        watcher = nil
        wakeAt = .infinity
    }

    private func start(_ context: ChannelHandlerContext) {
        guard endDeadline == .infinity else { return }
        let now = clock.uptime()
        frameDeadline = now + handshake
        frameReason = "no hello within \(Self.milliseconds(handshake)) ms"
        endDeadline = now + maximumDuration
        arm(context)
    }

    /// (Re)starts the watcher, to wake at the nearest deadline.
    private func arm(_ context: ChannelHandlerContext) {
        watcher?.cancel()
        generation += 1
        let generation = self.generation
        let now = clock.uptime()
        wakeAt = min(frameDeadline, endDeadline)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        let clock = self.clock
        let first = max(0, wakeAt - now)
        watcher = Task {
            var wait = first
            while true {
                do {
                    try await clock.sleep(seconds: wait)
                    let next = try await loop.submit { bound.value.0.check(bound.value.1, generation: generation) }
                        .get()
                    guard let next else { return }
                    wait = next
                } catch {
                    return
                }
            }
        }
    }

    /// Expires the stream if a deadline has passed (returns nil, as for a closed stream or a
    /// replaced watcher), or returns the seconds until the nearest one.
    private func check(_ context: ChannelHandlerContext, generation: Int) -> Double? {
        guard context.channel.isActive, generation == self.generation else { return nil }
        let now = clock.uptime()
        if now >= endDeadline {
            Self.expire(context, reason: "stream open longer than \(Self.milliseconds(maximumDuration)) ms")
            return nil
        }
        if now >= frameDeadline {
            Self.expire(context, reason: frameReason)
            return nil
        }
        wakeAt = min(frameDeadline, endDeadline)
        return wakeAt - now
    }

    private static func milliseconds(_ seconds: Double) -> Int { Int((seconds * 1_000).rounded()) }

    private static func expire(_ context: ChannelHandlerContext, reason: String) {
        context.writeAndFlush(NIOAny(Frame.error(code: 408, message: "timed out: \(reason)")), promise: nil)
        context.close(promise: nil)
    }
}
