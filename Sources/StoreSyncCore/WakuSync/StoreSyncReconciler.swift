/// The reference Waku node's store-sync reconciliation (`/vac/waku/reconciliation/1.0.0`) as a
/// pure state machine over `XorRangeStorage`: payload bytes in, the reply and the keys each side
/// lacks out. Networking, timers and the transfer of messages sit outside.
///
/// It follows the reference node's rules (its `seq_storage.nim`): a range whose XOR fingerprint
/// matches is skipped; one holding at most `itemSetThreshold` keys in scope is listed; a larger
/// one is split by time into `partitions` equal parts. A listed range that is not yet reconciled
/// is answered with this side's own list, marked reconciled, and both sides learn their
/// differences from it. Where it departs from the reference, SPEC.md section 9 says so.
public struct StoreSyncReconciler: Sendable {
    /// What this side syncs and what one session may cost it.
    public struct Configuration: Hashable, Sendable {
        /// This side's topics; empty lists admit any.
        public var scope: SyncScope
        /// The most keys in scope a range may hold to be listed rather than split.
        public var itemSetThreshold: Int
        /// The parts a range too large to list is split into.
        public var partitions: Int
        /// Ranges wholly below this timestamp (ns) that open a payload are skipped: this side
        /// keeps nothing there.
        public var floor: UInt64
        /// Bounds on each payload received, and on the keys this side lists in one range.
        public var limits: DecodingLimits
        /// The most payloads one session may receive.
        public var maximumRounds: Int

        public init(
            scope: SyncScope = SyncScope(), itemSetThreshold: Int = 100, partitions: Int = 8, floor: UInt64 = 0,
            limits: DecodingLimits = DecodingLimits(maximumRanges: 100_000, maximumIds: 1_000_000),
            maximumRounds: Int = 500
        ) {
            self.scope = scope
            self.itemSetThreshold = itemSetThreshold
            self.partitions = partitions
            self.floor = floor
            self.limits = limits
            self.maximumRounds = maximumRounds
        }
    }

    /// The outcome of one received payload.
    public struct Step: Hashable, Sendable {
        /// What to send back; nil when the session ended without a reply.
        public var reply: [UInt8]?
        /// Hashes this side holds and the peer lacks.
        public var have: [MessageHash]
        /// Hashes the peer holds and this side lacks.
        public var need: [MessageHash]
        /// Whether the session is over once `reply` (if any) is sent.
        public var isDone: Bool
    }

    /// Why a session was given up.
    public enum Failure: Error, Hashable, Sendable {
        /// The peer kept the session going past `maximumRounds`.
        case tooManyRounds(Int)
    }

    public let configuration: Configuration
    /// Payloads received so far.
    public private(set) var rounds = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The first payload of a session over the timestamps `window` (ns, both ends included):
    /// one fingerprint range over this side's keys in scope.
    public func initiate(window: ClosedRange<UInt64>, storage: some XorRangeStorage) throws -> [UInt8] {
        let lower = SyncKey(timestamp: window.lowerBound)
        let upper = SyncKey(timestamp: window.upperBound)
        let fingerprint = try storage.xor(from: lower, through: upper, in: configuration.scope)
        return RangesData(
            pubsubTopics: configuration.scope.pubsubTopics, contentTopics: configuration.scope.contentTopics,
            start: lower, ranges: [.init(upper: upper, content: .fingerprint(fingerprint))]
        ).encoded()
    }

    /// Takes the peer's payload and answers it.
    public mutating func receive(_ bytes: [UInt8], storage: some XorRangeStorage) throws -> Step {
        rounds += 1
        guard rounds <= configuration.maximumRounds else { throw Failure.tooManyRounds(configuration.maximumRounds) }
        var payload = try RangesData(decoding: bytes, limits: configuration.limits)
        guard !payload.isFinal else { return Step(reply: nil, have: [], need: [], isDone: true) }
        let asked = SyncScope(pubsubTopics: payload.pubsubTopics, contentTopics: payload.contentTopics)
        guard let scope = SyncScope.narrowed(own: configuration.scope, asked: asked) else {
            // No topic in common: an empty message, as the reference node answers.
            return Step(reply: [], have: [], need: [], isDone: true)
        }
        for index in payload.ranges.indices {
            guard payload.ranges[index].content != .skip else { continue }
            guard payload.ranges[index].upper.timestamp < configuration.floor else { break }
            payload.ranges[index].content = .skip
        }
        var reply = RangesData(
            pubsubTopics: configuration.scope.pubsubTopics, contentTopics: configuration.scope.contentTopics,
            start: payload.start)
        var have: [MessageHash] = []
        var need: [MessageHash] = []
        for index in payload.ranges.indices {
            let lower = payload.lower(of: index)
            let upper = payload.ranges[index].upper
            switch payload.ranges[index].content {
            case .skip:
                reply.ranges.append(.init(upper: upper, content: .skip))
            case .fingerprint(let theirs):
                try answer(
                    fingerprint: theirs, from: lower, through: upper, scope: scope, storage: storage, into: &reply)
            case .itemSet(let theirs, let reconciled):
                guard
                    let ours = try listed(from: lower, through: upper, scope: scope, storage: storage)
                else {
                    // More keys here than this side lists at once: it answers with fingerprints
                    // of the parts instead, and learns the differences from later rounds.
                    try split(from: lower, through: upper, scope: scope, storage: storage, into: &reply)
                    continue
                }
                Self.differences(theirs: theirs, ours: ours, from: lower, through: upper, have: &have, need: &need)
                reply.ranges.append(.init(upper: upper, content: reconciled ? .skip : .itemSet(ours, reconciled: true)))
            }
        }
        reply.ranges = Self.mergingSkips(reply.ranges)
        let isDone = reply.isFinal
        return Step(reply: isDone ? [0] : reply.encoded(), have: have, need: need, isDone: isDone)
    }

    /// Answers a fingerprint range: skipped when it matches, listed when small, split otherwise.
    private func answer(
        fingerprint theirs: MessageHash, from lower: SyncKey, through upper: SyncKey, scope: SyncScope,
        storage: some XorRangeStorage, into reply: inout RangesData
    ) throws {
        if try storage.xor(from: lower, through: upper, in: scope) == theirs {
            reply.ranges.append(.init(upper: upper, content: .skip))
        } else if try storage.count(from: lower, through: upper, in: scope) <= configuration.itemSetThreshold {
            let keys = try storage.keys(
                from: lower, through: upper, in: scope, limit: configuration.itemSetThreshold)
            reply.ranges.append(.init(upper: upper, content: .itemSet(keys, reconciled: false)))
        } else {
            try split(from: lower, through: upper, scope: scope, storage: storage, into: &reply)
        }
    }

    /// Splits a range into equal parts by time, each listed when small and fingerprinted
    /// otherwise. A range too short in time to split is listed whole, within the key bound.
    private func split(
        from lower: SyncKey, through upper: SyncKey, scope: SyncScope, storage: some XorRangeStorage,
        into reply: inout RangesData
    ) throws {
        let parts = Self.equalParts(from: lower.timestamp, to: upper.timestamp, count: configuration.partitions)
        guard !parts.isEmpty else {
            guard let keys = try listed(from: lower, through: upper, scope: scope, storage: storage) else {
                throw WireError.tooManyIds(limit: configuration.limits.maximumIds)
            }
            reply.ranges.append(.init(upper: upper, content: .itemSet(keys, reconciled: false)))
            return
        }
        var partLower = lower
        for (index, end) in parts.enumerated() {
            let partUpper = index == parts.count - 1 ? upper : SyncKey(timestamp: end)
            if try storage.count(from: partLower, through: partUpper, in: scope) <= configuration.itemSetThreshold {
                let keys = try storage.keys(
                    from: partLower, through: partUpper, in: scope, limit: configuration.itemSetThreshold)
                reply.ranges.append(.init(upper: partUpper, content: .itemSet(keys, reconciled: false)))
            } else {
                let fingerprint = try storage.xor(from: partLower, through: partUpper, in: scope)
                reply.ranges.append(.init(upper: partUpper, content: .fingerprint(fingerprint)))
            }
            partLower = SyncKey(timestamp: partUpper.timestamp)
        }
    }

    /// This side's keys in a range, or nil when there are more than it lists in one range.
    private func listed(
        from lower: SyncKey, through upper: SyncKey, scope: SyncScope, storage: some XorRangeStorage
    ) throws -> [SyncKey]? {
        let maximum = configuration.limits.maximumIds
        guard try storage.count(from: lower, through: upper, in: scope) <= maximum else { return nil }
        return try storage.keys(from: lower, through: upper, in: scope, limit: maximum)
    }

    /// The upper timestamps of `count` equal parts of `from...to`, the remainder spread over the
    /// first parts, as the reference splits; none when the span is shorter than `count`.
    static func equalParts(from: UInt64, to: UInt64, count: Int) -> [UInt64] {
        guard to >= from, count > 0, to - from >= UInt64(count) else { return [] }
        let length = (to - from) / UInt64(count)
        var remainder = (to - from) % UInt64(count)
        var bound = from
        return (0..<count).map { _ in
            bound += length
            if remainder > 0 {
                bound += 1
                remainder -= 1
            }
            return bound
        }
    }

    /// Compares the peer's list with this side's (both in scope, within the range): what only
    /// this side holds goes to `have`, what only the peer holds to `need`. Keys the peer listed
    /// outside the range are ignored.
    static func differences(
        theirs: [SyncKey], ours: [SyncKey], from lower: SyncKey, through upper: SyncKey,
        have: inout [MessageHash], need: inout [MessageHash]
    ) {
        // Both lists in key order without repeats, then one walk: lists are at most a few
        // hundred keys, and hashing 40-byte keys into sets cost more than the walk.
        var theirs = theirs.filter { $0 >= lower && $0 <= upper }
        if !zip(theirs, theirs.dropFirst()).allSatisfy({ $0 < $1 }) {
            theirs = Array(Set(theirs)).sorted()
        }
        var ours = ours
        if !zip(ours, ours.dropFirst()).allSatisfy({ $0 < $1 }) { ours = Array(Set(ours)).sorted() }
        var i = 0
        var j = 0
        while i < theirs.count || j < ours.count {
            if j == ours.count || (i < theirs.count && theirs[i] < ours[j]) {
                need.append(theirs[i].hash)
                i += 1
            } else if i == theirs.count || ours[j] < theirs[i] {
                have.append(ours[j].hash)
                j += 1
            } else {
                i += 1
                j += 1
            }
        }
    }

    /// Runs of skips merged into one, as the reference does before it sends.
    static func mergingSkips(_ ranges: [RangesData.Range]) -> [RangesData.Range] {
        var merged: [RangesData.Range] = []
        for range in ranges {
            if range.content == .skip, merged.last?.content == .skip {
                merged[merged.count - 1].upper = range.upper
            } else {
                merged.append(range)
            }
        }
        return merged
    }
}
