/// A decoded Negentropy protocol v1 message: the ranges it carries, in order.
///
/// The codec (`NegentropyMessage+Wire.swift`) turns bytes into this value and back; the
/// reconciliation logic (`Reconciler`) works on it and never touches bytes directly.
public struct NegentropyMessage: Hashable, Sendable {
    /// The protocol version byte this implementation speaks.
    public static let protocolVersion: UInt8 = 0x61

    /// What a range carries.
    public enum Payload: Hashable, Sendable {
        /// Nothing: the sender has nothing more to say about the range.
        case skip
        /// The fingerprint of the sender's keys in the range.
        case fingerprint(Fingerprint)
        /// Every id the sender holds in the range.
        case idList([MessageHash])

        /// The mode number of the payload on the wire.
        public var mode: UInt64 {
            switch self {
            case .skip: 0
            case .fingerprint: 1
            case .idList: 2
            }
        }
    }

    /// One range: it starts where the previous one ended (the first at `Bound.zero`) and ends
    /// before `upperBound`.
    public struct Range: Hashable, Sendable {
        /// Where the range ends (exclusive).
        public var upperBound: Bound
        /// What the sender says about the range.
        public var payload: Payload

        /// Creates a range.
        public init(upperBound: Bound, payload: Payload) {
            self.upperBound = upperBound
            self.payload = payload
        }
    }

    /// The ranges, bounds ascending.
    public var ranges: [Range]

    /// Creates a message.
    public init(ranges: [Range]) {
        self.ranges = ranges
    }
}

/// Bounds on what a decoder accepts from one message, beyond the size of the message itself.
public struct DecodingLimits: Hashable, Sendable {
    /// The most ranges in one message.
    public var maximumRanges: Int
    /// The most ids across the IdLists of one message.
    public var maximumIds: Int

    /// Creates limits.
    public init(maximumRanges: Int, maximumIds: Int) {
        self.maximumRanges = maximumRanges
        self.maximumIds = maximumIds
    }

    /// Limits implied by the message size alone (a range takes at least 3 bytes, an id 32).
    public static let unlimited = DecodingLimits(maximumRanges: .max, maximumIds: .max)
}
