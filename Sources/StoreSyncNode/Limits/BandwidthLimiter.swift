import NIOCore
import StoreSyncCore
import Synchronization

/// Bytes per second each peer address may send to each service, counted on every byte read
/// (requests that fail to decode included), as token buckets holding one second of bytes. A
/// peer that goes over is not answered with an error: the node stops reading from it until the
/// debt is paid, which TCP turns into backpressure on the sender.
public final class BandwidthLimiter: Sendable {
    /// Bytes per second per peer and service; nil for no limit.
    public let bytesPerSecond: Int?
    private let buckets = Mutex<[String: (tokens: Double, updated: Double)]>([:])
    private let maximumPeers: Int

    public init(bytesPerSecond: Int?, maximumPeers: Int = 10_000) {
        self.bytesPerSecond = bytesPerSecond
        self.maximumPeers = maximumPeers
    }

    /// Charges `bytes` read from `peer` on `service` at `now` (seconds); returns how long to stop
    /// reading from it, zero when it is within its rate.
    func charge(_ bytes: Int, peer: String, service: String, now: Double) -> Double {
        guard let bytesPerSecond else { return 0 }
        let rate = Double(bytesPerSecond)
        return buckets.withLock { buckets in
            let key = service + " " + peer
            var bucket = buckets[key] ?? (rate, now)
            bucket.tokens = min(rate, bucket.tokens + (now - bucket.updated) * rate) - Double(bytes)
            bucket.updated = now
            buckets[key] = bucket
            if buckets.count > maximumPeers {
                buckets = buckets.filter { now - $0.value.updated < 1 }
            }
            return bucket.tokens >= 0 ? 0 : -bucket.tokens / rate
        }
    }
}

/// Meters the bytes a connection reads against the bandwidth limiter, before any decoding, and
/// pauses reading while the peer is over its rate.
final class InboundByteMeter: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let limiter: BandwidthLimiter
    private let clock: any SyncScheduler
    /// The service of the stream, known once its hello is read; "hello" until then.
    var service = "hello"
    private var paused = false
    private var pendingRead = false

    init(limiter: BandwidthLimiter, clock: any SyncScheduler) {
        self.limiter = limiter
        self.clock = clock
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let peer = context.channel.remoteAddress?.ipAddress ?? "unknown"
        let wait = limiter.charge(buffer.readableBytes, peer: peer, service: service, now: clock.uptime())
        context.fireChannelRead(data)
        if wait > 0 && !paused { pause(context, for: wait) }
    }

    /// Stops reading for `seconds`, then resumes if the debt is paid, or pauses again.
    private func pause(_ context: ChannelHandlerContext, for seconds: Double) {
        paused = true
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        let clock = self.clock
        Task {
            try? await clock.sleep(seconds: seconds)
            loop.execute { bound.value.0.resume(bound.value.1) }
        }
    }

    /// Called once a pause is over.
    private func resume(_ context: ChannelHandlerContext) {
        let peer = context.channel.remoteAddress?.ipAddress ?? "unknown"
        let owed = limiter.charge(0, peer: peer, service: service, now: clock.uptime())
        // A debt under a microsecond is rounding, not bytes owed.
        if owed > 1e-6 {
            pause(context, for: owed)
            return
        }
        paused = false
        if pendingRead {
            pendingRead = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if paused {
            pendingRead = true
        } else {
            context.read()
        }
    }
}

/// Tells the byte meter which service a stream speaks once its hello has been decoded.
final class ServiceTagger: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Frame
    typealias InboundOut = Frame

    private let meter: InboundByteMeter

    init(meter: InboundByteMeter) {
        self.meter = meter
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .hello(let id, _) = unwrapInboundIn(data) {
            meter.service = StreamProtocol(rawValue: id).map { "\($0)" } ?? "unknown"
        }
        context.fireChannelRead(data)
    }
}
