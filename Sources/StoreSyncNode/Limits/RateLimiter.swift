import Synchronization

/// Token buckets per (protocol, peer address) and per protocol for the whole node. Idle
/// per-peer buckets are forgotten, so the table stays bounded however many addresses come by.
public final class RateLimiter: Sendable {
    /// The outcome of asking to serve one request.
    public enum Decision: Equatable, Sendable {
        case allowed
        /// Refused; a token will be back after this many milliseconds.
        case limited(retryAfterMilliseconds: Int)
    }

    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    private struct Key: Hashable {
        let streamProtocol: StreamProtocol
        let peer: String
    }

    private struct State {
        var peers: [Key: Bucket] = [:]
        var global: [StreamProtocol: Bucket] = [:]
    }

    /// The rates applied.
    public let policy: RateLimitPolicy
    /// Per-peer buckets kept at most; beyond it, full (idle) buckets are dropped first.
    public let maximumPeers: Int
    private let state = Mutex(State())

    public init(policy: RateLimitPolicy, maximumPeers: Int = 10_000) {
        self.policy = policy
        self.maximumPeers = maximumPeers
    }

    /// Takes a token for one request of `peer` on `streamProtocol` at time `now` (seconds, any
    /// monotonic origin), from the peer's bucket and the node's.
    public func admit(_ streamProtocol: StreamProtocol, peer: String, now: Double) -> Decision {
        admit(streamProtocol, peers: [peer], now: now)
    }

    /// Takes a token for one request from each of `peers` (one requester known by several names,
    /// such as its IP address and its PeerId) and from the node's bucket: refused if any is empty.
    public func admit(_ streamProtocol: StreamProtocol, peers: [String], now: Double) -> Decision {
        guard let limit = policy.limit(for: streamProtocol) else { return .allowed }
        let rate = Double(limit.count) / limit.periodSeconds
        let globalLimit = Double(limit.count * policy.globalMultiple)
        return state.withLock { state in
            let keys = peers.map { Key(streamProtocol: streamProtocol, peer: $0) }
            var buckets = keys.map { key in
                var bucket = state.peers[key] ?? Bucket(tokens: Double(limit.count), updated: now)
                bucket.tokens = min(Double(limit.count), bucket.tokens + (now - bucket.updated) * rate)
                bucket.updated = now
                return bucket
            }
            var global = state.global[streamProtocol] ?? Bucket(tokens: globalLimit, updated: now)
            global.tokens = min(
                globalLimit, global.tokens + (now - global.updated) * rate * Double(policy.globalMultiple))
            global.updated = now
            defer {
                for (key, bucket) in zip(keys, buckets) { state.peers[key] = bucket }
                state.global[streamProtocol] = global
                if state.peers.count > maximumPeers {
                    Self.forgetIdle(&state.peers, now: now, policy: policy, maximum: maximumPeers)
                }
            }
            let lowest = buckets.map(\.tokens).min() ?? Double(limit.count)
            guard lowest >= 1, global.tokens >= 1 else {
                let missing = 1 - min(lowest, global.tokens / Double(policy.globalMultiple))
                return .limited(retryAfterMilliseconds: max(1, Int((missing / rate * 1_000).rounded(.up))))
            }
            for index in buckets.indices { buckets[index].tokens -= 1 }
            global.tokens -= 1
            return .allowed
        }
    }

    /// Drops buckets that have refilled completely (their peer has been idle a full period of
    /// the bucket's own protocol), then, if still too many, the least recently used half.
    private static func forgetIdle(_ peers: inout [Key: Bucket], now: Double, policy: RateLimitPolicy, maximum: Int) {
        peers = peers.filter { key, bucket in
            guard let period = policy.limit(for: key.streamProtocol)?.periodSeconds else { return false }
            return now - bucket.updated < period
        }
        guard peers.count > maximum else { return }
        let cutoff = peers.values.map(\.updated).sorted()[peers.count / 2]
        peers = peers.filter { $0.value.updated >= cutoff }
    }

    /// Per-peer buckets held now.
    public var trackedPeers: Int { state.withLock { $0.peers.count } }
}
