import StoreSyncCore
import Synchronization

/// What peers may offer a node that does not take pushes: after a reconcile session, the peer
/// that ran it may offer messages of its pubsub topic and window that fall in the ranges where
/// this node sent its own ids (there the peer learned what it holds that this node lacks), up to
/// the number of keys the session could have differed by. A permit lasts `lifetime` seconds
/// after its session. Everything else offered is refused.
final class OfferPermits: Sendable {
    private struct Permit {
        var pubsubTopic: String
        var window: Range<UInt64>
        var ranges: [ListedRange]
        /// Per range: offers left where the peer listed its ids (nil where it did not).
        var leftInRange: [Int?]
        /// Offers left over the whole session.
        var left: Int
        var expires: Double
    }

    /// Seconds a permit lasts after its session.
    let lifetime: Double
    /// The most keys one session's permit lets a peer offer.
    let maximumKeys: Int
    /// Permits kept per address, addresses, and ranges over all permits (about 100 bytes each);
    /// past any of them the oldest permits go first.
    static let perAddress = 16
    static let addresses = 4_096
    static let totalRanges = 200_000

    private let state = Mutex<[String: [Permit]]>([:])

    init(lifetime: Double, maximumKeys: Int) {
        self.lifetime = lifetime
        self.maximumKeys = maximumKeys
    }

    /// Records what a finished session lets `address` offer.
    func grant(address: String, pubsubTopic: String, window: Range<UInt64>, ranges: [ListedRange], now: Double) {
        guard !ranges.isEmpty else { return }
        let permit = Permit(
            pubsubTopic: pubsubTopic, window: window, ranges: ranges, leftInRange: ranges.map(\.theirIds),
            left: maximumKeys, expires: now + lifetime)
        state.withLock { table in
            if table[address] == nil, table.count >= Self.addresses {
                table = table.filter { $0.value.contains { $0.expires > now } }
                if table.count >= Self.addresses,
                    let oldest = table.min(by: { earliest($0.value) < earliest($1.value) })
                {
                    table[oldest.key] = nil
                }
            }
            var permits = table[address, default: []].filter { $0.expires > now }
            permits.append(permit)
            table[address] = Array(permits.suffix(Self.perAddress))
            Self.dropOldest(&table, whileRangesExceed: Self.totalRanges)
        }
    }

    /// Drops the permits that expire first until the ranges of all permits fit.
    private static func dropOldest(_ table: inout [String: [Permit]], whileRangesExceed limit: Int) {
        var total = table.values.reduce(0) { $0 + $1.reduce(0) { $0 + $1.ranges.count } }
        guard total > limit else { return }
        let byExpiry = table.flatMap { address, permits in permits.map { (address, $0.expires) } }
            .sorted { $0.1 < $1.1 }
        for (address, expires) in byExpiry where total > limit {
            guard var permits = table[address], let index = permits.firstIndex(where: { $0.expires == expires })
            else { continue }
            total -= permits[index].ranges.count
            permits.remove(at: index)
            table[address] = permits.isEmpty ? nil : permits
        }
    }

    private func earliest(_ permits: [Permit]) -> Double {
        permits.map(\.expires).min() ?? 0
    }

    /// Takes permission for offering `keys` of `pubsubTopic`: all or nothing. Returns the keys
    /// refused (none when every one was permitted, and then their allowance is used up).
    func admit(address: String, pubsubTopic: String, keys: [SyncKey], now: Double) -> [SyncKey] {
        state.withLock { table in
            guard var permits = table[address]?.filter({ $0.expires > now }), !permits.isEmpty else { return keys }
            let before = permits
            var refused = [SyncKey]()
            for key in keys {
                var taken = false
                for index in permits.indices where permits[index].pubsubTopic == pubsubTopic {
                    let ranges = permits[index].ranges
                    // Ranges ascend and do not overlap: the one that may hold the key is the
                    // first that ends above it.
                    let range = firstIndex(in: ranges.indices) { key < ranges[$0].upperBound.key }
                    guard permits[index].left > 0, permits[index].window.contains(key.timestamp),
                        range < ranges.count, ranges[range].contains(key)
                    else { continue }
                    if let left = permits[index].leftInRange[range] {
                        guard left > 0 else { continue }
                        permits[index].leftInRange[range] = left - 1
                    }
                    permits[index].left -= 1
                    taken = true
                    break
                }
                if !taken { refused.append(key) }
            }
            table[address] = refused.isEmpty ? permits : before
            return refused
        }
    }
}
