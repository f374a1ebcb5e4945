/// A rate: at most `count` requests per `period`, refilled continuously (a token bucket of
/// `count` tokens).
public struct RateLimit: Hashable, Sendable, CustomStringConvertible {
    /// Requests allowed per period (and the burst allowed at once).
    public var count: Int
    /// The period, in seconds.
    public var periodSeconds: Double

    public init(count: Int, periodSeconds: Double) {
        self.count = count
        self.periodSeconds = periodSeconds
    }

    /// Parses `N/<amount><unit>` with units ms, s, m, h: `10/1s`, `5/1m`, `100/500ms`.
    public init?(parsing text: some StringProtocol) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let count = Int(parts[0]), count > 0 else { return nil }
        let period = parts[1]
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3_600)]
        guard let (unit, scale) = units.first(where: { period.hasSuffix($0.0) }),
            let amount = Double(period.dropLast(unit.count)), amount > 0
        else { return nil }
        self.init(count: count, periodSeconds: amount * scale)
    }

    public var description: String { "\(count)/\(periodSeconds)s" }
}

/// Which rate applies to which protocol, as the reference node's `--rate-limit` flag writes it:
/// `store:10/1s`, `reconcile:5/1m`, repeatable; a setting without a protocol is the default for
/// the rest; `none` turns limiting off.
public struct RateLimitPolicy: Hashable, Sendable {
    /// Per-protocol rates; a protocol absent here uses `defaultLimit`.
    public var limits: [StreamProtocol: RateLimit]
    /// The rate of protocols not named; nil: unlimited.
    public var defaultLimit: RateLimit?
    /// How many times a single peer's rate the whole node accepts for one protocol.
    public var globalMultiple: Int

    public init(limits: [StreamProtocol: RateLimit], defaultLimit: RateLimit?, globalMultiple: Int = 20) {
        self.limits = limits
        self.defaultLimit = defaultLimit
        self.globalMultiple = globalMultiple
    }

    /// No limits at all.
    public static let none = RateLimitPolicy(limits: [:], defaultLimit: nil)

    /// The defaults: queries, count requests and pushes 20 a second per peer, reconciliations 30
    /// a minute, transfers 60 a minute; the node as a whole 20 times that.
    public static let defaults = RateLimitPolicy(
        limits: [
            .storeQuery: RateLimit(count: 20, periodSeconds: 1), .push: RateLimit(count: 20, periodSeconds: 1),
            .count: RateLimit(count: 20, periodSeconds: 1),
            .reconcile: RateLimit(count: 30, periodSeconds: 60), .transfer: RateLimit(count: 60, periodSeconds: 60),
        ],
        defaultLimit: nil)

    /// The protocol names of the flag.
    static let names: [String: StreamProtocol] = [
        "store": .storeQuery, "reconcile": .reconcile, "transfer": .transfer, "push": .push, "count": .count,
    ]

    /// Parses the settings of the flag; throws a message naming the bad setting.
    public static func parse(_ settings: [String]) throws(ProtocolError) -> RateLimitPolicy {
        if settings == ["none"] { return .none }
        var policy = RateLimitPolicy.defaults
        for setting in settings {
            let parts = setting.split(separator: ":", maxSplits: 1)
            if parts.count == 1 {
                guard let limit = RateLimit(parsing: parts[0]) else {
                    throw .bad("rate limit \(setting): expected N/<time> like 10/1s, or PROTOCOL:N/<time>, or none")
                }
                policy.defaultLimit = limit
                for name in names.values where !settings.contains(where: { $0.hasPrefix(Self.name(of: name) + ":") }) {
                    policy.limits[name] = limit
                }
                continue
            }
            guard let target = names[String(parts[0])] else {
                throw .bad(
                    "rate limit \(setting): unknown protocol \(parts[0]); use store, reconcile, transfer, push or count"
                )
            }
            guard let limit = RateLimit(parsing: parts[1]) else {
                throw .bad("rate limit \(setting): expected N/<time> like 10/1s")
            }
            policy.limits[target] = limit
        }
        return policy
    }

    static func name(of streamProtocol: StreamProtocol) -> String {
        names.first { $0.value == streamProtocol }?.key ?? "\(streamProtocol)"
    }

    /// The per-peer rate of a protocol, nil when unlimited.
    public func limit(for streamProtocol: StreamProtocol) -> RateLimit? {
        limits[streamProtocol] ?? defaultLimit
    }
}
