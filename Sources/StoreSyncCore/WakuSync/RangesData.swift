/// One payload of the reference Waku node's store-sync reconciliation
/// (`/vac/waku/reconciliation/1.0.0`): the sender's topic scope and a run of contiguous ranges
/// of keys, each skipped, summarised by a fingerprint, or listed.
///
/// A range covers the keys from its lower bound through its upper bound, both included. Only
/// upper bounds travel: the first range starts at `start`, every later one at the timestamp of
/// the upper bound before it, with an all-zero hash.
public struct RangesData: Hashable, Sendable {
    /// What a range says about the keys it covers.
    public enum Content: Hashable, Sendable {
        /// Nothing to do here.
        case skip
        /// The XOR of the hashes of the sender's keys in the range.
        case fingerprint(MessageHash)
        /// The sender's keys in the range; `reconciled` once the sender has already compared
        /// them with the receiver's.
        case itemSet([SyncKey], reconciled: Bool)
    }

    /// One range: its upper bound and what it says.
    public struct Range: Hashable, Sendable {
        public var upper: SyncKey
        public var content: Content

        public init(upper: SyncKey, content: Content) {
            self.upper = upper
            self.content = content
        }
    }

    /// Pubsub topics the sender syncs; empty for all.
    public var pubsubTopics: [String]
    /// Content topics the sender syncs; empty for all.
    public var contentTopics: [String]
    /// The lower bound of the first range.
    public var start: SyncKey
    public var ranges: [Range]

    public init(
        pubsubTopics: [String] = [], contentTopics: [String] = [], start: SyncKey = SyncKey(timestamp: 0),
        ranges: [Range] = []
    ) {
        self.pubsubTopics = pubsubTopics
        self.contentTopics = contentTopics
        self.start = start
        self.ranges = ranges
    }

    /// The lower bound of the range at `index`.
    public func lower(of index: Int) -> SyncKey {
        index == 0 ? start : SyncKey(timestamp: ranges[index - 1].upper.timestamp)
    }

    /// Whether the payload ends a session: no ranges, or only skips.
    public var isFinal: Bool {
        ranges.allSatisfy { $0.content == .skip }
    }
}
