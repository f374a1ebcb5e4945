/// The Negentropy protocol v1 reconciliation engine: a pure state machine that turns a peer's
/// message into the reply, and, on the initiating side, into the ids each side lacks.
///
/// It performs no I/O. It reads keys only through `ReconciliationStorage`, given anew with each
/// call so that a store can hand it one consistent snapshot per message. One engine serves one
/// session; it is not shared between threads.
public final class Reconciler {
    /// Which side of a session this engine plays.
    public enum Role: Sendable {
        /// Has not yet sent or answered a message.
        case undecided
        /// Opened the session; learns `have` and `need`.
        case initiator
        /// Answers the initiator's messages.
        case responder
    }

    /// The initiator's outcome of one received message.
    public struct Step: Sendable {
        /// The next message to send, or nil when reconciliation is complete.
        public var nextMessage: [UInt8]?
        /// Ids we hold that the peer lacks, learned from this message.
        public var have: [MessageHash]
        /// Ids the peer holds that we lack, learned from this message.
        public var need: [MessageHash]
    }

    /// Bytes of a frame, 0 for no limit; otherwise at least 4096.
    public let frameSizeLimit: Int
    /// How this side splits ranges.
    public let policy: SplitPolicy
    /// Bounds on each incoming message beyond its size.
    public let limits: DecodingLimits
    /// What the whole session may cost this side.
    public let budget: SessionBudget
    /// The side this engine plays, fixed by the first call.
    public private(set) var role: Role = .undecided
    /// Messages processed so far.
    public private(set) var rounds = 0
    /// Keys enumerated so far, charged before each enumeration.
    public private(set) var keysEnumerated = 0
    /// As responder, the ranges in which this side sent its own ids: where the peer learned what
    /// it holds that this side lacks, so where its offers may fall. Adjacent ranges are merged;
    /// at most `maximumListedRanges` are kept (the ranges beyond are not recorded, so offers
    /// there are refused: a bound on what a session can make this side remember).
    public private(set) var listedRanges: [ListedRange] = []
    /// The most ranges `listedRanges` keeps.
    public static let maximumListedRanges = 10_000

    private let hasher = SHA256Hasher()

    /// Creates an engine.
    public init(
        frameSizeLimit: Int = 0, policy: SplitPolicy = .reference, limits: DecodingLimits = .unlimited,
        budget: SessionBudget = .unlimited
    ) throws(ReconcilerError) {
        guard frameSizeLimit == 0 || frameSizeLimit >= 4096 else {
            throw .frameSizeLimitTooSmall(frameSizeLimit)
        }
        self.frameSizeLimit = frameSizeLimit
        self.policy = policy
        self.limits = limits
        self.budget = budget
    }

    /// Opens a session: the first message for the responder, covering every key in `storage`.
    public func initiate(_ storage: some ReconciliationStorage) throws -> [UInt8] {
        guard role == .undecided else { throw ReconcilerError.wrongRole(expected: "an unused engine") }
        role = .initiator
        var writer = MessageWriter()
        let count = try storage.count()
        try splitRange(0..<count, upTo: .infinity, storage: storage, estimate: nil, into: &writer)
        rounds = 1
        return writer.bytes
    }

    /// Answers one message from the initiator.
    public func respond(to message: [UInt8], storage: some ReconciliationStorage) throws -> [UInt8] {
        switch role {
        case .initiator: throw ReconcilerError.wrongRole(expected: "a responder")
        case .undecided: role = .responder
        case .responder: break
        }
        var have = [MessageHash]()
        var need = [MessageHash]()
        return try process(message, storage: storage, have: &have, need: &need)
    }

    /// Takes one reply from the responder: returns what it taught us and what to send next.
    public func reconcile(_ message: [UInt8], storage: some ReconciliationStorage) throws -> Step {
        guard role == .initiator else { throw ReconcilerError.wrongRole(expected: "the initiator") }
        var have = [MessageHash]()
        var need = [MessageHash]()
        let output = try process(message, storage: storage, have: &have, need: &need)
        return Step(nextMessage: output.count == 1 ? nil : output, have: have, need: need)
    }

    /// A range of the incoming message with where it falls in our storage.
    private struct ResolvedRange {
        var range: NegentropyMessage.Range
        var indices: Range<Int>
        /// For a fingerprint range: whether ours matches.
        var matches = false
    }

    /// The reply being built, and whether a skip up to the last bound passed is owed before the
    /// next range written (consecutive skips merge into one).
    private struct Reply {
        var writer = MessageWriter()
        var previousBound = Bound.zero
        var pendingSkip = false

        mutating func skip() {
            pendingSkip = true
        }

        mutating func flushSkip() {
            guard pendingSkip else { return }
            pendingSkip = false
            writer.writeSkip(upTo: previousBound)
        }
    }

    /// What answering one range covered: the keys (an id list cut to fit covers fewer than the
    /// range), and whether it must stay even past the frame limit (a cut id list always does).
    private struct Answered {
        var covered: Range<Int>
        var keep = false
    }

    /// One round of the protocol: decode the peer's message, find where each of its ranges falls
    /// in our storage, answer the ranges in order, and when the frame is full, end the reply with
    /// one fingerprint of everything after the last range kept.
    private func process(
        _ input: [UInt8],
        storage: some ReconciliationStorage,
        have: inout [MessageHash],
        need: inout [MessageHash]
    ) throws -> [UInt8] {
        guard rounds < budget.maximumRounds else {
            throw ReconcilerError.overBudget("more than \(budget.maximumRounds) rounds")
        }
        rounds += 1
        guard let message = try decode(input) else { return [NegentropyMessage.protocolVersion] }
        let storageCount = try storage.count()
        let (resolved, estimate) = try resolve(message.ranges, storage: storage, count: storageCount)
        var reply = Reply()
        for entry in resolved {
            let checkpoint = reply.writer.checkpoint
            let listed = listedRanges.count
            let answered = try answer(
                entry, storage: storage, estimate: estimate, reply: &reply, have: &have, need: &need)
            if exceedsFrameLimit(reply.writer.count) {
                if !answered.keep { listedRanges.removeSubrange(listed...) }
                try closeWithRest(
                    after: answered, rollingBackTo: checkpoint, storage: storage, count: storageCount, reply: &reply)
                break
            }
            reply.previousBound = entry.range.upperBound
        }
        return reply.writer.bytes
    }

    /// The peer's message; nil when it speaks another version, which a responder answers with
    /// its own version alone.
    private func decode(_ input: [UInt8]) throws -> NegentropyMessage? {
        switch try NegentropyMessage.decode(input, limits: limits) {
        case .message(let decoded):
            return decoded
        case .otherVersion(let version):
            if role == .initiator { throw WireError.unsupportedVersion(version) }
            return nil
        }
    }

    /// Where each range falls in our storage, whether its fingerprint matches ours, and how many
    /// fingerprints differ (what the adaptive policy sizes its splits by).
    private func resolve(
        _ ranges: [NegentropyMessage.Range], storage: some ReconciliationStorage, count: Int
    ) throws -> ([ResolvedRange], DifferenceEstimate) {
        var resolved = [ResolvedRange]()
        resolved.reserveCapacity(ranges.count)
        var estimate = DifferenceEstimate()
        var previousIndex = 0
        for range in ranges {
            let upper = try storage.lowerBound(of: range.upperBound.key, in: previousIndex..<count)
            var entry = ResolvedRange(range: range, indices: previousIndex..<upper)
            if case .fingerprint(let theirs) = range.payload {
                entry.matches = try storage.fingerprint(of: entry.indices, hasher: hasher) == theirs
                estimate.fingerprints += 1
                if !entry.matches { estimate.differing += 1 }
            }
            resolved.append(entry)
            previousIndex = upper
        }
        return (resolved, estimate)
    }

    /// Answers one range: a skip or a matching fingerprint needs nothing; a differing
    /// fingerprint is split; an id list tells the initiator the differences, and gets the
    /// responder's own answer.
    private func answer(
        _ entry: ResolvedRange,
        storage: some ReconciliationStorage,
        estimate: DifferenceEstimate,
        reply: inout Reply,
        have: inout [MessageHash],
        need: inout [MessageHash]
    ) throws -> Answered {
        switch entry.range.payload {
        case .skip:
            reply.skip()
        case .fingerprint where entry.matches:
            reply.skip()
        case .fingerprint:
            reply.flushSkip()
            try splitRange(
                entry.indices, from: reply.previousBound, upTo: entry.range.upperBound, storage: storage,
                estimate: estimate, into: &reply.writer)
        case .idList(let theirIds) where role == .initiator:
            try compare(theirIds, with: entry.indices, storage: storage, have: &have, need: &need)
            reply.skip()
        case .idList(let theirIds):
            return try respondToIdList(theirIds, entry, storage: storage, reply: &reply)
        }
        return Answered(covered: entry.indices)
    }

    /// The responder's answer to an id list: under the adaptive policy only the differences, when
    /// they fit in the frame; otherwise our own id list, cut to fit.
    private func respondToIdList(
        _ theirIds: [MessageHash], _ entry: ResolvedRange, storage: some ReconciliationStorage, reply: inout Reply
    ) throws -> Answered {
        let bound = entry.range.upperBound
        let checkpoint = reply.writer.checkpoint
        let sizeBeforeSkip = reply.writer.count
        let skipWasPending = reply.pendingSkip
        if policy == .adaptive,
            let differences = try differencesOnlyAnswer(theirIds, indices: entry.indices, upTo: bound, storage: storage)
        {
            if differences.isEmpty {
                reply.skip()
                return Answered(covered: entry.indices)
            }
            reply.flushSkip()
            for range in differences { reply.writer.write(range) }
            reply.pendingSkip = differences.last?.upperBound != bound
            guard exceedsFrameLimit(reply.writer.count) else { return Answered(covered: entry.indices) }
            // Too big for the frame: the full list below is cut to fit and always makes progress.
            reply.writer.rollBack(to: checkpoint)
            reply.pendingSkip = skipWasPending
        }
        reply.flushSkip()
        let (covered, end) = try answerWithIdList(
            entry.indices, upTo: bound, storage: storage, sizeBeforeSkip: sizeBeforeSkip, into: &reply.writer)
        list(from: reply.previousBound, upTo: end, theirIds: theirIds.count)
        return Answered(covered: covered, keep: true)
    }

    /// Past the frame limit: drops the last range (unless it must stay) and ends the reply with
    /// one fingerprint, to infinity, of everything after what is kept.
    private func closeWithRest(
        after answered: Answered, rollingBackTo checkpoint: MessageWriter.Checkpoint,
        storage: some ReconciliationStorage, count: Int, reply: inout Reply
    ) throws {
        var restStart = answered.covered.upperBound
        if !answered.keep {
            reply.writer.rollBack(to: checkpoint)
            // The reference counts the rest from the end of the range it just dropped, leaving
            // that range out of the fingerprint though the peer's covers it (a difference there
            // can go unseen). The reference policy keeps its bytes; the adaptive policy counts
            // the dropped range in.
            if policy == .adaptive { restStart = answered.covered.lowerBound }
        }
        let rest = try storage.fingerprint(of: restStart..<count, hasher: hasher)
        reply.writer.writeFingerprint(rest, upTo: .infinity)
    }

    /// Takes `keys` from the session's budget before they are enumerated.
    private func charge(_ keys: Int) throws {
        guard keys <= budget.maximumKeys - keysEnumerated else {
            throw ReconcilerError.overBudget("more than \(budget.maximumKeys) keys enumerated")
        }
        keysEnumerated += keys
    }

    /// Records a range in which this responder sent its ids.
    private func list(from lowerBound: Bound, upTo upperBound: Bound, theirIds: Int?) {
        if var last = listedRanges.last, last.upperBound.key == lowerBound.key {
            last.upperBound = upperBound
            last.theirIds = last.theirIds.flatMap { earlier in theirIds.map { earlier + $0 } }
            listedRanges[listedRanges.count - 1] = last
        } else if listedRanges.count < Self.maximumListedRanges {
            listedRanges.append(ListedRange(lowerBound: lowerBound, upperBound: upperBound, theirIds: theirIds))
        }
    }

    private func exceedsFrameLimit(_ size: Int) -> Bool {
        frameSizeLimit != 0 && size > frameSizeLimit - 200
    }

    /// Writes the ranges that stand for `indices` after a fingerprint mismatch (or at the start).
    private func splitRange(
        _ indices: Range<Int>,
        from lowerBound: Bound = .zero,
        upTo upperBound: Bound,
        storage: some ReconciliationStorage,
        estimate: DifferenceEstimate?,
        into writer: inout MessageWriter
    ) throws {
        let itemCount = indices.count
        let plan = policy.plan(
            itemCount: itemCount, isInitiator: role == .initiator, estimate: estimate, frameSizeLimit: frameSizeLimit)
        switch plan {
        case .idList:
            try charge(itemCount)
            if role == .responder { list(from: lowerBound, upTo: upperBound, theirIds: nil) }
            writer.beginIdList(upTo: upperBound, count: itemCount)
            try storage.forEachKey(in: indices) { key in
                writer.appendId(key.hash)
                return true
            }
        case .buckets(let buckets):
            let perBucket = itemCount / buckets
            let withExtra = itemCount % buckets
            var current = indices.lowerBound
            for bucket in 0..<buckets {
                let size = perBucket + (bucket < withExtra ? 1 : 0)
                let fingerprint = try storage.fingerprint(of: current..<(current + size), hasher: hasher)
                current += size
                let bound: Bound
                if current == indices.upperBound {
                    bound = upperBound
                } else {
                    bound = Bound.minimal(between: try storage.key(at: current - 1), and: try storage.key(at: current))
                }
                writer.writeFingerprint(fingerprint, upTo: bound)
            }
        }
    }

    /// The initiator's handling of an IdList: what we hold that they lack, and the reverse.
    private func compare(
        _ theirIds: [MessageHash],
        with indices: Range<Int>,
        storage: some ReconciliationStorage,
        have: inout [MessageHash],
        need: inout [MessageHash]
    ) throws {
        // The peer's ids become keys this side keeps (`need`): they are charged too.
        try charge(indices.count + theirIds.count)
        var theirs = Set(theirIds)
        try storage.forEachKey(in: indices) { key in
            if theirs.remove(key.hash) == nil { have.append(key.hash) }
            return true
        }
        for id in theirIds where theirs.remove(id) != nil {
            need.append(id)
        }
    }

    /// The reference answer to an IdList: all our ids in the range, cut where the frame limit is
    /// reached (the range then ends at the first id left out). Returns the indices answered.
    private func answerWithIdList(
        _ indices: Range<Int>,
        upTo upperBound: Bound,
        storage: some ReconciliationStorage,
        sizeBeforeSkip: Int,
        into writer: inout MessageWriter
    ) throws -> (answered: Range<Int>, end: Bound) {
        let capacity =
            frameSizeLimit == 0 ? indices.count : max(0, frameSizeLimit - sizeBeforeSkip) / MessageHash.byteCount
        try charge(min(indices.count, capacity + 1))
        var endBound = upperBound
        var answered = indices
        var ids = [MessageHash]()
        var index = indices.lowerBound
        try storage.forEachKey(in: indices) { key in
            if exceedsFrameLimit(sizeBeforeSkip + ids.count * MessageHash.byteCount) {
                endBound = Bound(key: key)
                answered = indices.lowerBound..<index
                return false
            }
            ids.append(key.hash)
            index += 1
            return true
        }
        writer.beginIdList(upTo: endBound, count: ids.count)
        for id in ids { writer.appendId(id) }
        return (answered, endBound)
    }

    /// The adaptive answer to an IdList when every id the peer sent is one we hold: the ranges
    /// around the ids only we hold, as IdLists, separated by Skips where both sides agree; the
    /// initiator reads them as exactly the same difference as a full list. Returns nil when the
    /// peer holds an id we lack, whose place in the key order we cannot know. An empty answer
    /// means the range agrees entirely; a trailing agreeing part is left as a pending Skip.
    private func differencesOnlyAnswer(
        _ theirIds: [MessageHash],
        indices: Range<Int>,
        upTo upperBound: Bound,
        storage: some ReconciliationStorage
    ) throws -> [NegentropyMessage.Range]? {
        guard theirIds.count <= indices.count else { return nil }
        // At least this many ids only we hold would go in the answer: past the frame, the cut
        // full list answers instead, so the range is not enumerated for an answer that cannot fit.
        if frameSizeLimit != 0, (indices.count - theirIds.count) * MessageHash.byteCount > frameSizeLimit {
            return nil
        }
        try charge(indices.count)
        var theirs = Set(theirIds)
        guard theirs.count == theirIds.count else { return nil }
        var keys = [SyncKey]()
        keys.reserveCapacity(indices.count)
        var onlyOurs = [Bool]()
        onlyOurs.reserveCapacity(indices.count)
        try storage.forEachKey(in: indices) { key in
            keys.append(key)
            onlyOurs.append(theirs.remove(key.hash) == nil)
            return true
        }
        guard theirs.isEmpty else { return nil }

        var answer = [NegentropyMessage.Range]()
        var position = 0
        while position < keys.count {
            guard onlyOurs[position] else {
                position += 1
                continue
            }
            var end = position
            while end < keys.count && onlyOurs[end] { end += 1 }
            if position > 0 {
                let agreed = Bound.minimal(between: keys[position - 1], and: keys[position])
                answer.append(NegentropyMessage.Range(upperBound: agreed, payload: .skip))
            }
            let rangeEnd = end == keys.count ? upperBound : Bound.minimal(between: keys[end - 1], and: keys[end])
            let ids = keys[position..<end].map(\.hash)
            answer.append(NegentropyMessage.Range(upperBound: rangeEnd, payload: .idList(ids)))
            position = end
        }
        return answer
    }
}

/// Misuse of a `Reconciler`.
public enum ReconcilerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A frame size limit other than 0 below 4096 bytes.
    case frameSizeLimitTooSmall(Int)
    /// A call that the engine's role does not allow.
    case wrongRole(expected: String)
    /// The session asked for more than its `SessionBudget`.
    case overBudget(String)

    public var description: String {
        switch self {
        case .frameSizeLimitTooSmall(let limit): "frame size limit \(limit) is below the minimum of 4096 bytes"
        case .wrongRole(let expected): "this call needs \(expected)"
        case .overBudget(let what): "the session went over its budget: \(what)"
        }
    }
}

/// A range in which a responder sent its own ids, and how many ids the peer had listed in it
/// (nil where the peer sent a fingerprint, so its count is unknown).
public struct ListedRange: Hashable, Sendable {
    /// Where the range starts (inclusive) and ends (exclusive).
    public var lowerBound: Bound
    public var upperBound: Bound
    /// Ids the peer listed in the range, when it listed them.
    public var theirIds: Int?

    /// Whether a key falls in the range.
    public func contains(_ key: SyncKey) -> Bool {
        lowerBound.key <= key && key < upperBound.key
    }
}
