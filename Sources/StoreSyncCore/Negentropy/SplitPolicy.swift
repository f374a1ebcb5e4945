#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#else
    import Darwin
#endif

/// How a side cuts a range whose fingerprints disagree: into how many fingerprinted buckets, or
/// into a list of ids. Either side may use either policy; the wire format and the final
/// difference are the same, only bytes and rounds change.
public enum SplitPolicy: String, Hashable, Sendable, CaseIterable {
    /// The reference implementation's policy: fewer than 32 items go as an IdList, more are cut
    /// into 16 buckets. Required to reproduce reference transcripts byte for byte.
    case reference
    /// Chooses the bucket count from the density of differences seen in the peer's last message,
    /// leaves id lists to the responder (whose lists the initiator answers with a Skip, not with a
    /// list of its own), and answers an id list with only the sub-ranges that differ when it can.
    case adaptive
}

/// What the peer's message said about how much differs, as input to the adaptive policy.
struct DifferenceEstimate {
    /// Fingerprint ranges received.
    var fingerprints = 0
    /// Of those, how many differed from ours.
    var differing = 0

    /// Expected number of differences in one range whose fingerprint differed, from the fraction
    /// that differed (differences taken as spread like a Poisson process).
    var differencesPerDifferingRange: Double {
        guard fingerprints > 0, differing > 0 else { return 1 }
        let fraction = Double(differing) / Double(fingerprints)
        let lambda: Double
        if differing < fingerprints {
            lambda = -log(1 - fraction)
        } else {
            // Every range differed: the density is at least this high, likely more.
            lambda = log(Double(fingerprints) + 1) + 2
        }
        return max(1, lambda / (1 - exp(-lambda)))
    }
}

/// How one range is sent.
enum SplitPlan: Equatable {
    case idList
    case buckets(Int)
}

extension SplitPolicy {
    /// The reference policy's bucket count and IdList threshold.
    static let referenceBuckets = 16
    static let referenceIdListThreshold = 32

    /// Worst-case bytes of one fingerprint range on the wire (bound with full prefix, mode, hash).
    static let maximumFingerprintRangeBytes = 10 + 1 + 32 + 1 + 16

    /// Plans the split of a range of `itemCount` keys.
    ///
    /// - `estimate` is nil when there is nothing to go on (the first message).
    /// - `frameSizeLimit` (0 = none) caps what one split may write, so that a split always fits in
    ///   a frame and a session cannot stall re-splitting the same range.
    func plan(itemCount: Int, isInitiator: Bool, estimate: DifferenceEstimate?, frameSizeLimit: Int) -> SplitPlan {
        switch self {
        case .reference:
            return itemCount < Self.referenceIdListThreshold ? .idList : .buckets(Self.referenceBuckets)
        case .adaptive:
            guard let estimate else {
                return itemCount < Self.referenceIdListThreshold ? .idList : .buckets(Self.referenceBuckets)
            }
            return adaptivePlan(
                itemCount: itemCount, isInitiator: isInitiator, estimate: estimate, frameSizeLimit: frameSizeLimit)
        }
    }

    private func adaptivePlan(itemCount: Int, isInitiator: Bool, estimate: DifferenceEstimate, frameSizeLimit: Int)
        -> SplitPlan
    {
        let maximumIdListItems = frameSizeLimit == 0 ? Int.max : max(1, (frameSizeLimit - 400) / MessageHash.byteCount)
        let maximumBuckets =
            frameSizeLimit == 0 ? 4096 : max(2, (frameSizeLimit - 400) / Self.maximumFingerprintRangeBytes)
        if itemCount == 0 { return .idList }

        let differences = min(estimate.differencesPerDifferingRange, Double(itemCount))
        let itemsPerDifference = Double(itemCount) / differences

        if !isInitiator {
            // An IdList from the responder ends the range (the initiator answers Skip): worth it
            // once a difference is pinned down to a handful of items.
            if itemCount <= 2
                || (itemsPerDifference <= AdaptiveTuning.responderIdListItemsPerDifference
                    && itemCount <= maximumIdListItems)
            {
                return .idList
            }
        } else if itemCount == 1 {
            // A lone item: the responder will answer its fingerprint with its own short IdList.
            return .buckets(1)
        }

        // Aim for buckets that each hold about one difference, then a few more per difference so
        // that the bucket that differs is small.
        let perDifference = min(
            AdaptiveTuning.maximumBucketsPerDifference,
            max(2, (itemsPerDifference * AdaptiveTuning.bucketsPerItemRatio).squareRoot()))
        var buckets = Int((differences * perDifference).rounded())
        buckets = max(2, min(buckets, itemCount, maximumBuckets))
        return .buckets(buckets)
    }
}

/// Constants of the adaptive policy, chosen by measuring bytes per difference (see SPEC.md).
enum AdaptiveTuning {
    /// A responder sends an IdList once a range holds at most this many items per expected
    /// difference.
    static let responderIdListItemsPerDifference = 6.0
    /// Buckets per difference grow as the square root of items per difference times this ratio
    /// (an id costs 32 bytes, a fingerprint range about 23).
    static let bucketsPerItemRatio = 32.0 / 23.0
    /// Far from the bottom, more buckets per difference cost bytes faster than they save rounds.
    static let maximumBucketsPerDifference = 8.0
}
